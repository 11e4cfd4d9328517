//! The DNS check's decoding and verdict on an arbitrary answer datagram (its own id is used,
//! so the id check does not stop the fuzzer): never panics.
#![no_main]

use healthcheck::probe::{offline, Negotiate, Receive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let params = Negotiate {
        receive: Some(Receive::compile("192\\.0\\.2\\.").expect("a valid pattern")),
        ..Negotiate::default()
    };
    let _ = offline::dns(data, id, &params);
});
