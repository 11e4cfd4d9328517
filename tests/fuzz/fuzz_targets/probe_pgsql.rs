//! The PostgreSQL check (startup, authentication, simple query) against arbitrary backend
//! messages: never panics, never hangs.
#![no_main]

use healthcheck::probe::offline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(
        offline::pgsql(data, "probe", "secret", "SELECT 1").is_some(),
        "the pgsql check hung on a closed connection"
    );
});
