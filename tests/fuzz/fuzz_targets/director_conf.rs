//! `director.conf` text -> `Settings` or every error: never panics, and the errors name a
//! line of the file (`[peer]`, `[monitor]`, `[sync]`, `[announce]`, `[track]`, `[[notify]]`,
//! `[failback]`; the seeds use every key).
#![no_main]

use std::path::Path;

use failover::config::settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = settings::parse(Path::new("director.conf"), &text) {
        let lines = text.lines().count();
        assert!(e.diagnostics.iter().any(|d| d.is_error()));
        assert!(e.diagnostics.iter().all(|d| d.line <= lines.max(1)), "{e}");
    }
});
