//! "Did you mean …?" for misspelt keys.
//!
//! ```
//! # use portcullis::settings::Settings;
//! let err = Settings::from_toml_str("[jwt]\nexpirattion = 5").unwrap_err();
//! assert!(err.to_string().contains("did you mean `expiration`?"));
//! ```

/// The edit distance between two strings (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
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
    }

    #[test]
    fn suggestions() {
        let keys = ["expiration", "issuer", "secret_key"];
        assert_eq!(closest("expirattion", keys), Some("expiration"));
        assert_eq!(closest("secretKey", keys), Some("secret_key"));
        assert_eq!(closest("zzz", keys), None);
    }
}
