//! The case folding of the literal index: one char in, one char out.
//!
//! The literal index looks for folded literals in the folded target. It is sound for *any*
//! char-to-char map, because the literal extractor folds every char a pattern accepts at a
//! position and keeps the set of results (and gives up on positions with too many): if the
//! regex matches, the folded target contains one of the folded literals. The map only decides
//! how *selective* the index is, so it is chosen to merge what `(?i)` merges most often:
//! ASCII upper case to lower case, and the only two non-ASCII chars that `(?i)` matches with
//! ASCII letters, KELVIN SIGN (`K` → `k`) and LATIN SMALL LETTER LONG S (`ſ` → `s`). Then
//! `(?i)kit` has the single literal `kit`, not `kit`, `Kit`, `\u{212A}it`, … Other chars are
//! left alone (`(?i)é` has the two literals `é` and `É`).
//!
//! ```text
//! fold("/Admin/KIT") = "/admin/kit"      fold("/ſtatic/") = "/static/"      fold("/É/") = "/É/"
//! ```

use std::borrow::Cow;

/// Folds one char.
pub(super) fn fold_char(c: char) -> char {
    match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        _ => c,
    }
}

/// Folds a string; borrows when nothing changes (the usual lower-case ASCII path).
pub(super) fn fold_str(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        return Cow::Borrowed(text);
    }
    if text.is_ascii() {
        return Cow::Owned(text.to_ascii_lowercase());
    }
    // Only KELVIN SIGN (E2 84 AA) and LONG S (C5 BF) change among non-ASCII chars.
    Cow::Owned(text.chars().map(fold_char).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_and_the_two_special_chars() {
        assert!(matches!(fold_str("/api/v2/"), Cow::Borrowed(_)));
        assert_eq!(fold_str("/Admin/KIT"), "/admin/kit");
        assert_eq!(fold_str("/\u{17F}tatic/\u{212A}"), "/static/k");
        assert_eq!(fold_str("/É/"), "/É/");
    }
}
