//! Strict, unpadded base64url (RFC 7515 §2): no padding, no whitespace, no non-zero
//! trailing bits. Any other text is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Decodes strict base64url into `out`, returning the number of bytes written, or `None`
/// when the text is not canonical base64url or does not fit.
pub(crate) fn decode_into(text: &[u8], out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(text, out).ok()
}

/// Decodes strict base64url into a new vector.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Appends the base64url form of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// The base64url form of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded length of `n` base64url characters (an upper bound for malformed input).
pub(crate) fn decoded_len(n: usize) -> usize {
    n * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_padding_whitespace_and_trailing_bits() {
        assert_eq!(decode(b"Zm9v").as_deref(), Some(&b"foo"[..]));
        assert!(decode(b"Zm8=").is_none(), "padding");
        assert!(decode(b"Zm 9v").is_none(), "whitespace");
        assert!(decode(b"Zm+v").is_none(), "standard alphabet");
        // "AB" decodes to one byte only if the last 4 bits are zero; "AB" has non-zero bits.
        assert!(decode(b"AB").is_none(), "non-zero trailing bits");
        assert_eq!(decode(b"AA").as_deref(), Some(&[0u8][..]));
    }
}
