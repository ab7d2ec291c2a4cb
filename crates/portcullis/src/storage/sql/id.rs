//! Random UUIDs (version 4) for the tokens table's `id` column, from aws-lc-rs's generator.
//!
//! ```text
//! 3f2b8c1e-9d4a-4c7e-b1f0-6a5d2e8c9b74
//!               ^    ^ variant (8, 9, a or b)
//!               version 4
//! ```

use crate::storage::failure::unavailable;
use crate::Result;

/// A random UUID in its 36-character text form.
///
/// # Errors
/// [`Error::Unavailable`](crate::Error::Unavailable) if the system's random generator fails.
pub(super) fn random_uuid() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| unavailable("the random generator failed"))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{byte:02x}"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let a = random_uuid().unwrap();
        let b = random_uuid().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(a.matches('-').count(), 4);
    }
}
