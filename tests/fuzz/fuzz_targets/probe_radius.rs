//! The RADIUS check's reading of an answer datagram: the raw bytes, then the same bytes with
//! a correct Response Authenticator (so attribute parsing is reached): never panics; a fixed
//! up answer is not refused for its authenticator.
#![no_main]

use healthcheck::probe::offline;
use healthcheck::probe::radius::RadiusError;
use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};

const AUTHENTICATOR: [u8; 16] = [7; 16];
const SECRET: &[u8] = b"s3cret";

fuzz_target!(|data: &[u8]| {
    let id = data.get(1).copied().unwrap_or_default();
    let _ = offline::radius(data, id, AUTHENTICATOR, SECRET);

    let mut fixed = data.to_vec();
    let len = match data {
        [_, _, l0, l1, ..] => usize::from(u16::from_be_bytes([*l0, *l1])),
        _ => return,
    };
    if len < 20 || len > fixed.len() {
        return;
    }
    let digest = Md5::new()
        .chain_update(&fixed[..4])
        .chain_update(AUTHENTICATOR)
        .chain_update(&fixed[20..len])
        .chain_update(SECRET)
        .finalize();
    fixed[4..20].copy_from_slice(&digest);
    let res = offline::radius(&fixed, id, AUTHENTICATOR, SECRET);
    assert_ne!(res, Err(RadiusError::BadAuthenticator));
});
