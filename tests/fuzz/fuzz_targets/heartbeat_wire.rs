//! Heartbeat 3.0.6's own messages (`failover::heartbeat::wire`): `parse` on the raw bytes,
//! and on the bytes behind a `###\n` frame with a valid CRC trailer (key index 1 is `crc`),
//! so the field decoder is reached; whatever parses emits and parses back the same.
#![no_main]

use std::collections::BTreeMap;

use failover::config::authkeys::{AuthKeys, AuthMethod};
use failover::heartbeat::{auth, wire};
use libfuzzer_sys::fuzz_target;

fn keys() -> AuthKeys {
    AuthKeys {
        active: 1,
        keys: BTreeMap::from([(1, AuthMethod::Crc), (2, AuthMethod::Sha1(b"fuzz".to_vec()))]),
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let _ = wire::parse(data, &keys);

    let mut framed = b"###\n".to_vec();
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"%%%\n");
    let token = format!("1 {}", auth::mac(&AuthMethod::Crc, &framed));
    framed.extend_from_slice(format!("{}:{token},", token.len()).as_bytes());
    if let Ok((msg, _)) = wire::parse(&framed, &keys) {
        if let Ok(again) = wire::emit(&msg, &keys) {
            assert_eq!(wire::parse(&again, &keys), Ok((msg, 1)));
        }
    }
});
