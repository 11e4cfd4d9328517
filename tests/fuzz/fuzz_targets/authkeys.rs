//! `authkeys` text -> `AuthKeys` or every error: never panics; a parsed file signs with a
//! key it defines.
#![no_main]

use std::path::Path;

use failover::config::authkeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = authkeys::parse(Path::new("authkeys"), &text) {
        let keys = parsed.value;
        assert!(keys.get(keys.active).is_some());
    }
});
