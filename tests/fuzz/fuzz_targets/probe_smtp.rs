//! The SMTP check against arbitrary server bytes (reply lines, multi-line replies, EHLO/HELO):
//! never panics, never hangs.
#![no_main]

use healthcheck::probe::offline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(
        offline::smtp(data).is_some(),
        "the smtp check hung on a closed connection"
    );
});
