//! The value of a route guard (cbsecurity's `secured` annotation), parsed once.
//!
//! | value | meaning |
//! |---|---|
//! | `false`, `no`, `0` | open: no check |
//! | `""`, `secured`, `true`, `yes`, `1` | authentication only (cbsecurity treated `true` as a permission named `true`) |
//! | anything else, e.g. `orders:read, orders:write` | authentication and **any** of these permissions |
//!
//! ```
//! use portcullis::firewall::Secured;
//!
//! assert_eq!(Secured::parse("false"), Secured::Open);
//! assert_eq!(Secured::parse("TRUE"), Secured::Authenticated);
//! assert_eq!(Secured::parse(" admin , audit "), Secured::Permissions(vec!["admin".into(), "audit".into()]));
//! ```

use serde::Serialize;

/// What a guard requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "requires", content = "permissions")]
pub enum Secured {
    /// Nothing: the guard is open.
    Open,
    /// An authenticated user.
    Authenticated,
    /// An authenticated user with any of these permissions.
    Permissions(Vec<String>),
}

impl Secured {
    /// Parses a guard value (see the module docs).
    pub fn parse(value: &str) -> Self {
        let trimmed = value.trim();
        let lowered = trimmed.to_ascii_lowercase();
        match lowered.as_str() {
            "false" | "no" | "0" => Secured::Open,
            "" | "secured" | "true" | "yes" | "1" => Secured::Authenticated,
            _ => Secured::Permissions(
                trimmed
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        }
    }

    /// The permissions required (any of), empty for authentication only.
    pub fn permissions(&self) -> &[String] {
        match self {
            Secured::Permissions(list) => list,
            _ => &[],
        }
    }
}
