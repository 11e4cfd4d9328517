//! Heartbeat datagrams: `packet::parse` on the raw bytes; then the bytes with a valid CRC-32
//! appended (key index 1 is `crc`), so the body decoder is reached: what parses emits and
//! parses back the same; and `Receiver::accept` takes a datagram at most once.
#![no_main]

use std::collections::BTreeMap;

use failover::config::authkeys::{AuthKeys, AuthMethod};
use failover::packet::{self, Receiver, Rejection};
use libfuzzer_sys::fuzz_target;

/// The receivers' nonce; the seeds echo it.
const NONCE: u64 = 0x1234;

fn keys() -> AuthKeys {
    AuthKeys {
        active: 1,
        keys: BTreeMap::from([
            (1, AuthMethod::Crc),
            (2, AuthMethod::Sha1(b"fuzz".to_vec())),
            (3, AuthMethod::Md5(b"fuzz".to_vec())),
        ]),
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let _ = packet::parse(data, &keys);

    let mut signed = data.to_vec();
    signed.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
    if let Ok(msg) = packet::parse(&signed, &keys) {
        let again = packet::emit(&msg, &keys).expect("a parsed message emits");
        assert_eq!(packet::parse(&again, &keys).as_ref(), Ok(&msg));
    }

    let nodes = ["alpha".to_string(), "beta".to_string()];
    let mut rx = Receiver::new("alpha", nodes, keys, NONCE);
    if rx.accept(&signed).is_ok() {
        let second = rx.accept(&signed);
        assert!(
            matches!(second, Err(Rejection::Replay { .. })),
            "accepted twice: {second:?}"
        );
    }
});
