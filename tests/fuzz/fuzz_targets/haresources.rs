//! `haresources` text -> `Haresources` or every error, and one resource token -> `Resource`:
//! never panic.
#![no_main]

use std::path::Path;

use failover::config::haresources;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = haresources::parse(Path::new("haresources"), &text) {
        let _ = parsed.value.digest();
    }
    if let Some(token) = text.split_whitespace().next() {
        let _ = haresources::parse_resource(token);
        let _ = haresources::parse_ipv4_spec(token);
    }
});
