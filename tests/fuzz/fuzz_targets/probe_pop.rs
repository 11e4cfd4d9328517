//! The POP3 check (banner, APOP, CAPA, SASL CRAM-MD5, USER/PASS) against arbitrary server
//! bytes: never panics, never hangs.
#![no_main]

use healthcheck::probe::{offline, Negotiate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = Negotiate {
        login: Some("probe".into()),
        passwd: Some("secret".into()),
        ..Negotiate::default()
    };
    assert!(
        offline::pop(data, &params).is_some(),
        "the pop check hung on a closed connection"
    );
});
