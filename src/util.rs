//! Small helpers with no better home: base64 and UTF-8-safe truncation. (Patterns on host
//! aliases are matched by ssh_config's own matcher, in `ssh/config.rs`.)

/// Standard base64 (RFC 4648, with padding): host key fingerprints, known_hosts lines and binary
/// resource blobs. Fifty lines here instead of a dependency.
pub mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Encodes `data` with padding.
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes standard base64; whitespace is ignored, padding optional. `None` on bad input.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() / 4 * 3);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
            if c == b'=' {
                break;
            }
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        Some(out)
    }
}

/// Cuts `bytes` to at most `max` bytes without splitting a UTF-8 sequence, when the bytes are
/// valid UTF-8 up to the cut. Returns the length to keep.
pub fn utf8_cut(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut cut = max;
    // Step back over continuation bytes (10xxxxxx) to the start of the character at the cut;
    // a UTF-8 character has at most 3 of them.
    while cut > 0 && max - cut < 3 && (bytes[cut] & 0b1100_0000) == 0b1000_0000 {
        cut -= 1;
    }
    if (bytes[cut] & 0b1100_0000) == 0b1000_0000 {
        return max; // not UTF-8 here anyway: keep the full size
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_known_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64::encode(raw.as_bytes()), enc);
            assert_eq!(base64::decode(enc).unwrap(), raw.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64::decode(&base64::encode(&all)).unwrap(), all);
        assert_eq!(base64::decode("not*base64"), None);
    }

    #[test]
    fn utf8_cut_never_splits_a_character() {
        let s = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        for max in 0..=s.len() {
            let keep = utf8_cut(s, max);
            assert!(keep <= max);
            assert!(std::str::from_utf8(&s[..keep]).is_ok(), "cut at {max}");
        }
        assert_eq!(utf8_cut(s, 2), 1);
        assert_eq!(utf8_cut(s, 3), 3);
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_encode() {
        use crate::util::base64;
        assert_eq!(base64::encode(b"scout"), "c2NvdXQ=");
        assert_eq!(base64::decode("c2NvdXQ").as_deref(), Some(&b"scout"[..]));
    }

    #[test]
    fn example_utf8_cut() {
        // "é" is two bytes: a cut after 2 bytes would split it, so 1 byte is kept.
        assert_eq!(crate::util::utf8_cut("aé".as_bytes(), 2), 1);
    }
}
