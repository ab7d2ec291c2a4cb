//! "Did you mean …?" for misspelt keys.
//!
//! ```
//! # use portcullis::settings::Settings;
//! let err = Settings::from_toml_str("[jwt]\nexpirattion = 5").unwrap_err();
//! assert!(err.to_string().contains("did you mean `expiration`?"));
//! ```

/// The edit distance between two strings: insertions, deletions, substitutions and
/// transpositions of neighbours each count one (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidate closest to `word` (ignoring case and `_`), if it is close enough to be a
/// likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let fold = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let folded = fold(word);
    let limit = (folded.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|candidate| (distance(&folded, &fold(candidate)), candidate))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("rolse", "roles"), 1);
    }

    #[test]
    fn suggestions() {
        let keys = ["expiration", "issuer", "secret_key"];
        assert_eq!(closest("expirattion", keys), Some("expiration"));
        assert_eq!(closest("secretKey", keys), Some("secret_key"));
        assert_eq!(closest("zzz", keys), None);
    }
}
