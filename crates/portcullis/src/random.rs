//! Random identifiers from the operating system's CSPRNG (through aws-lc-rs).

use crate::{Error, Result};

/// `len` random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Unavailable {
        what: "the system random generator",
        reason: "it returned no bytes".to_owned(),
    })?;
    Ok(bytes)
}

/// A random version-4 UUID (RFC 9562) in its 36-character text form.
pub(crate) fn uuid_v4() -> Result<String> {
    let mut bytes = bytes::<16>()?;
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

/// 128 random bits as 32 lower-case hex digits.
pub(crate) fn hex128() -> Result<String> {
    Ok(bytes::<16>()?.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_version_and_variant() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]));
        assert_ne!(id, uuid_v4().unwrap());
        assert_eq!(hex128().unwrap().len(), 32);
    }
}
