//! The Redis key space of one storage: `prefix + jti` for token records (cbsecurity's
//! `cbjwt_<jti>`), `prefix + "epoch:" + scope` for revocation epochs and
//! `prefix + "family:" + id` for refresh families.
//!
//! A `jti` that itself starts with `epoch:`, `family:` or `~` would land in another
//! namespace, so it is stored as `prefix + "~" + jti`: record keys and the other keys can
//! never be confused, whatever the `jti`.
//!
//! ```text
//! cbjwt_3f2b8c1e           token record of jti 3f2b8c1e
//! cbjwt_~epoch:odd         token record of jti "epoch:odd" (escaped)
//! cbjwt_epoch:user-7       revocation epoch of subject user-7
//! cbjwt_epoch:*            revocation epoch of every subject
//! cbjwt_family:f-91        refresh family f-91
//! ```

/// The namespace of revocation epochs, after the prefix.
const EPOCH: &str = "epoch:";
/// The namespace of refresh families, after the prefix.
const FAMILY: &str = "family:";
/// Marks a `jti` that would otherwise look like another namespace.
const ESCAPE: char = '~';

/// Builds and recognises one storage's keys.
#[derive(Debug, Clone)]
pub(super) struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// The key space under `prefix`.
    pub(super) fn new(prefix: &str) -> Self {
        KeySpace {
            prefix: prefix.to_owned(),
        }
    }

    /// The key of the record of `jti`.
    pub(super) fn token(&self, jti: &str) -> String {
        if jti.starts_with(EPOCH) || jti.starts_with(FAMILY) || jti.starts_with(ESCAPE) {
            format!("{}{ESCAPE}{jti}", self.prefix)
        } else {
            format!("{}{jti}", self.prefix)
        }
    }

    /// The key of the revocation epoch of `scope`.
    pub(super) fn epoch(&self, scope: &str) -> String {
        format!("{}{EPOCH}{scope}", self.prefix)
    }

    /// The key of the refresh family `family`.
    pub(super) fn family(&self, family: &str) -> String {
        format!("{}{FAMILY}{family}", self.prefix)
    }

    /// The `jti` whose record `key` is, or `None` for an epoch, a family or a key outside
    /// the prefix.
    pub(super) fn jti_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(self.prefix.as_str())?;
        if rest.starts_with(EPOCH) || rest.starts_with(FAMILY) {
            return None;
        }
        Some(rest.strip_prefix(ESCAPE).unwrap_or(rest))
    }

    /// The `SCAN MATCH` pattern of every key under the prefix (glob characters in the prefix
    /// escaped).
    pub(super) fn pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + 2);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_never_collide() {
        let keys = KeySpace::new("cbjwt_");
        assert_eq!(keys.token("abc"), "cbjwt_abc");
        assert_eq!(keys.epoch("user-7"), "cbjwt_epoch:user-7");
        assert_eq!(keys.family("f1"), "cbjwt_family:f1");
        assert_eq!(keys.token("epoch:user-7"), "cbjwt_~epoch:user-7");
        assert_eq!(keys.token("~x"), "cbjwt_~~x");
        for jti in ["abc", "epoch:user-7", "family:f1", "~x", ""] {
            assert_eq!(keys.jti_of(&keys.token(jti)), Some(jti), "{jti}");
        }
        assert_eq!(keys.jti_of("cbjwt_epoch:user-7"), None);
        assert_eq!(keys.jti_of("cbjwt_family:f1"), None);
        assert_eq!(keys.jti_of("other_abc"), None);
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(KeySpace::new("cbjwt_").pattern(), "cbjwt_*");
        assert_eq!(KeySpace::new("a*b?[c]\\").pattern(), "a\\*b\\?\\[c\\]\\\\*");
    }
}
