//! Base45 (RFC 9285): bytes as QR alphanumeric characters, 3 characters
//! per 2 bytes. Hand-written because the core allocates nothing and the
//! crates that do this return `String`.

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Characters needed for `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len / 2 * 3 + len % 2 * 2
}

/// Encodes `bytes` into `out`, which must be `encoded_len(bytes.len())` long.
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    for (chunk, chars) in bytes.chunks(2).zip(out.chunks_mut(3)) {
        let mut value = chunk.iter().fold(0u32, |v, &b| v << 8 | u32::from(b));
        for c in chars.iter_mut() {
            *c = ALPHABET[(value % 45) as usize];
            value /= 45;
        }
    }
}

/// Decodes `text` into `out`, which must have room for every byte; `None`
/// for a character outside the alphabet, a dangling character, or a group
/// whose value is too large for its bytes.
pub(crate) fn decode(text: &[u8], out: &mut [u8]) -> Option<usize> {
    if text.len() % 3 == 1 {
        return None;
    }
    let mut len = 0;
    for chars in text.chunks(3) {
        let mut value = 0u32;
        for &c in chars.iter().rev() {
            let digit = ALPHABET.iter().position(|&a| a == c)? as u32;
            value = value * 45 + digit;
        }
        let bytes = if chars.len() == 3 { 2 } else { 1 };
        if value >= 1 << (8 * bytes) {
            return None;
        }
        for i in (0..bytes).rev() {
            *out.get_mut(len)? = (value >> (8 * i)) as u8;
            len += 1;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_to_vec(bytes: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec![0; encoded_len(bytes.len())];
        encode(bytes, &mut out);
        out
    }

    #[test]
    fn rfc9285_examples() {
        // RFC 9285 §4.3 and §4.4.
        for (bytes, text) in [
            (&b"AB"[..], &b"BB8"[..]),
            (b"Hello!!", b"%69 VD92EX0"),
            (b"base-45", b"UJCLQE7W581"),
            (b"ietf!", b"QED8WEX0"),
        ] {
            assert_eq!(encode_to_vec(bytes), text);
            let mut out = [0; 16];
            let len = decode(text, &mut out).unwrap();
            assert_eq!(&out[..len], bytes);
        }
    }

    #[test]
    fn invalid_text_is_refused() {
        let mut out = [0; 16];
        assert_eq!(decode(b"GGW", &mut out), None); // 65535 + 1, RFC 9285 §6
        assert_eq!(decode(b"ab8", &mut out), None);
        assert_eq!(decode(b"BB8B", &mut out), None);
        assert_eq!(decode(b"BB8BB8BB8", &mut [0; 2]), None);
    }
}
