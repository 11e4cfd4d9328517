//! The MACs Heartbeat puts on its messages (`lib/plugins/HBauth/{sha1,md5,crc}.c`), as the
//! text token `"N hex"`: HMAC-SHA1 and HMAC-MD5 per RFC 2104 in lowercase hex, and for `crc`
//! a CRC-32 (polynomial 0x04C11DB7, MSB first, initial value 0, final complement, no length
//! suffix) printed with `%lx`, so without leading zeros. `crc` authenticates nothing.

use hmac::{Hmac, Mac};

use crate::config::authkeys::AuthMethod;

/// The MAC of `data` in Heartbeat's spelling (lowercase hex).
pub fn mac(method: &AuthMethod, data: &[u8]) -> String {
    match method {
        AuthMethod::Crc => format!("{:x}", crc(data)),
        AuthMethod::Md5(_) | AuthMethod::Sha1(_) => hex(&tag(method, data)),
    }
}

/// Whether `token_hex` is the MAC of `data`. The HMACs are compared in constant time.
pub fn verify(method: &AuthMethod, data: &[u8], token_hex: &str) -> bool {
    match method {
        AuthMethod::Crc => u32::from_str_radix(token_hex, 16).is_ok_and(|v| v == crc(data)),
        AuthMethod::Md5(_) | AuthMethod::Sha1(_) => verify_hmac(method, data, token_hex),
    }
}

type HmacMd5 = Hmac<md5::Md5>;
type HmacSha1 = Hmac<sha1::Sha1>;

fn tag(method: &AuthMethod, data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: the `Err` arms are never taken.
    match method {
        AuthMethod::Crc => crc(data).to_be_bytes().to_vec(),
        AuthMethod::Md5(key) => HmacMd5::new_from_slice(key).map_or(Vec::new(), |mut m| {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }),
        AuthMethod::Sha1(key) => HmacSha1::new_from_slice(key).map_or(Vec::new(), |mut m| {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }),
    }
}

fn verify_hmac(method: &AuthMethod, data: &[u8], token_hex: &str) -> bool {
    let Some(tag) = unhex(token_hex) else {
        return false;
    };
    match method {
        AuthMethod::Crc => false,
        AuthMethod::Md5(key) => HmacMd5::new_from_slice(key).is_ok_and(|mut m| {
            m.update(data);
            m.verify_slice(&tag).is_ok()
        }),
        AuthMethod::Sha1(key) => HmacSha1::new_from_slice(key).is_ok_and(|mut m| {
            m.update(data);
            m.verify_slice(&tag).is_ok()
        }),
    }
}

/// CRC-32/POSIX's core without the length suffix, as `crc.c` computes it.
pub fn crc(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[usize::from(((crc >> 24) as u8) ^ b)];
    }
    !crc
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2202_vectors() {
        // RFC 2202 test case 2 for both HMACs.
        let data = b"what do ya want for nothing?";
        assert_eq!(
            mac(&AuthMethod::Sha1(b"Jefe".to_vec()), data),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            mac(&AuthMethod::Md5(b"Jefe".to_vec()), data),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert!(verify(
            &AuthMethod::Md5(b"Jefe".to_vec()),
            data,
            "750c783e6ab0b503eaa86e310a5db738"
        ));
        assert!(!verify(
            &AuthMethod::Md5(b"jefe".to_vec()),
            data,
            "750c783e6ab0b503eaa86e310a5db738"
        ));
        assert!(!verify(&AuthMethod::Sha1(b"Jefe".to_vec()), data, "zz"));
    }

    #[test]
    fn crc_is_cksum_without_the_length() {
        // The catalogue's CRC-32/CKSUM check value (cksum(1) then also feeds the length).
        assert_eq!(crc(b""), 0xffff_ffff);
        assert_eq!(crc(b"123456789"), 0x765e_7680);
        assert_eq!(mac(&AuthMethod::Crc, b""), "ffffffff");
        assert!(verify(&AuthMethod::Crc, b"123456789", "765e7680"));
        assert!(!verify(&AuthMethod::Crc, b"123456788", "765e7680"));
    }
}
