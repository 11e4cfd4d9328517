//! The IMAP check (greeting, LOGIN, LOGOUT through async-imap) against arbitrary server
//! bytes: never panics out of the probe, never hangs.
//!
//! imap-proto panics on some answers, and the probe turns that panic into a failed check
//! (see `healthcheck::probe::imap::session`). libfuzzer-sys's panic hook aborts on every
//! panic, caught or not, so this target puts the default hook back: a panic that escapes
//! the probe still ends the run (libfuzzer-sys aborts on it), a contained one does not.
#![no_main]

use std::sync::Once;

use healthcheck::probe::{offline, Negotiate};
use libfuzzer_sys::fuzz_target;

static DEFAULT_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let params = Negotiate {
        login: Some("probe".into()),
        passwd: Some("secret".into()),
        ..Negotiate::default()
    };
    assert!(
        offline::imap(data, &params).is_some(),
        "the imap check hung on a closed connection"
    );
});
