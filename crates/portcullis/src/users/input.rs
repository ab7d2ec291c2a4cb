//! What the user store accepts: every value is bounded and checked before it reaches SQL or
//! the password hasher. Failures are [`Error::InvalidInput`] naming the field; a password is
//! never quoted.
//!
//! Without a database feature the store is not compiled, and only [`grants`] (which the
//! settings use for `users.default_roles`) and the constants are needed.
#![cfg_attr(
    not(any(feature = "storage-sqlite", feature = "storage-postgres")),
    allow(dead_code)
)]

use crate::{Error, Result};

/// The longest username, in bytes.
pub const MAX_USERNAME: usize = 64;
/// The longest role, permission, first or last name, in bytes.
pub const MAX_NAME: usize = 128;
/// The longest email address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// The most roles (or permissions) one user may have.
pub const MAX_GRANTS: usize = 256;
/// The highest `users.max_password_length` accepted.
pub const PASSWORD_CAP: usize = 4096;
/// The longest users table name (the store appends `_migrations`).
pub(crate) const MAX_TABLE: usize = 52;

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field,
        reason: reason.into(),
    }
}

/// Checks a username: 1 to 64 ASCII letters, digits and `. _ - @ +`, starting with a letter
/// or digit. Usernames are unique ignoring ASCII case.
pub(crate) fn username(name: &str) -> Result<()> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-_@+".contains(&b);
    if name.is_empty() || name.len() > MAX_USERNAME {
        return Err(invalid(
            "username",
            format!("must be 1 to {MAX_USERNAME} characters"),
        ));
    }
    if !name.bytes().all(allowed) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "username",
            "may hold ASCII letters, digits and . _ - @ +, and must start with a letter or digit",
        ));
    }
    Ok(())
}

/// The key under which a username is unique: its ASCII lower case (SQL `LOWER`).
pub(crate) fn username_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Checks a password's length, in characters, against the store's bounds.
pub(crate) fn password(password: &str, min: usize, max: usize) -> Result<()> {
    // Counting stops at the cap: an enormous input costs no more than a long one.
    let length = password.chars().take(max + 1).count();
    if length < min || length > max {
        return Err(invalid(
            "password",
            format!("must be {min} to {max} characters long"),
        ));
    }
    Ok(())
}

/// Checks a list of roles or permissions: each 1 to 128 bytes without white space, commas or
/// control characters (they travel as comma lists and space-separated scopes), at most 256.
/// `field` is `roles` or `permissions`.
pub(crate) fn grants(field: &'static str, values: &[String]) -> Result<()> {
    if values.len() > MAX_GRANTS {
        return Err(invalid(field, format!("at most {MAX_GRANTS} {field}")));
    }
    for value in values {
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == ',';
        if value.is_empty() || value.len() > MAX_NAME || value.contains(bad) {
            return Err(invalid(
                field,
                format!("{value:?}: each is 1 to {MAX_NAME} characters without spaces or commas"),
            ));
        }
    }
    Ok(())
}

/// Checks a first or last name: at most 128 bytes, no control characters.
pub(crate) fn person_name(field: &'static str, name: &str) -> Result<()> {
    if name.len() > MAX_NAME || name.contains(char::is_control) {
        return Err(invalid(
            field,
            format!("at most {MAX_NAME} characters, without control characters"),
        ));
    }
    Ok(())
}

/// Checks an email address: at most 254 bytes, one `@` between non-empty parts, no white
/// space or control characters. (Whether it receives mail is not checked.)
pub(crate) fn email(address: &str) -> Result<()> {
    let well_formed = address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && address.matches('@').count() == 1
        && !address.contains(|c: char| c.is_whitespace() || c.is_control());
    if address.len() > MAX_EMAIL || !well_formed {
        return Err(invalid(
            "email",
            format!("not an address of the form name@domain (at most {MAX_EMAIL} characters)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for good in [
            "bob",
            "Bob.Smith",
            "a",
            "bob+test@example.com",
            "7up",
            &"x".repeat(64),
        ] {
            assert!(username(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".bob",
            "bob smith",
            "bob:x",
            "bøb",
            "bob\n",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(
                    username(bad),
                    Err(Error::InvalidInput {
                        field: "username",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(username_key("Bob.SMITH"), "bob.smith");
    }

    #[test]
    fn passwords_are_counted_in_characters_and_capped() {
        assert!(password("12345678", 8, 16).is_ok());
        assert!(
            password("ééééééé", 8, 16).is_err(),
            "7 characters, 14 bytes"
        );
        assert!(password("éééééééé", 8, 16).is_ok());
        let err = password(&"p".repeat(1_000_000), 8, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "password: must be 8 to 1024 characters long"
        );
    }

    #[test]
    fn grants_names_and_emails() {
        assert!(grants("roles", &["admin".into(), "orders:read".into()]).is_ok());
        for bad in ["", "a b", "a,b", "a\tb", &"r".repeat(129)] {
            let err = grants("permissions", &[bad.to_owned()]).unwrap_err();
            assert!(err.to_string().starts_with("permissions: "), "{bad:?}");
        }
        assert!(grants("roles", &vec!["r".to_owned(); 257]).is_err());
        assert!(person_name("first_name", "Zoë O'Brien").is_ok());
        assert!(person_name("first_name", "a\u{0}b").is_err());
        assert!(email("bob@example.com").is_ok());
        for bad in ["bob", "@x", "bob@", "a@b@c", "bob @x.org"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }
}
