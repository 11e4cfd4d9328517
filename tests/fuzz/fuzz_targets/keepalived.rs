//! A keepalived.conf -> `director import keepalived`'s files, or every error: never panics;
//! an input with an error writes nothing, the importer's own check of its files never
//! refuses one, and every file written loads with director's own
//! parsers (Heartbeat's ha.cf, haresources, authkeys; ldirectord's files; director.conf;
//! resource scripts are shell scripts).
#![no_main]

use std::path::Path;

use director::config::{ldirectord, Services, StaticResolver};
use director::import::keepalived::{import_text, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = Options {
        node: "ha1".into(),
        peer: Some("ha2".into()),
    };
    let result = import_text("keepalived.conf", &text, &options);
    // The importer checks its own files last (an error "the generated ... would not load"):
    // that error is its own bug, never the input's.
    for n in &result.notes {
        assert!(!n.message.contains("would not load"), "{n}");
    }
    if result.failed() {
        assert!(result.files.is_empty());
        return;
    }
    let resolver = StaticResolver::new(Services::parse(""));
    for f in &result.files {
        let ok = match f.name.as_str() {
            "ha.cf" => failover::config::hacf::parse(Path::new("ha.cf"), &f.text).is_ok(),
            "haresources" => {
                failover::config::haresources::parse(Path::new("haresources"), &f.text).is_ok()
            }
            "authkeys" => failover::config::authkeys::parse(Path::new("authkeys"), &f.text).is_ok(),
            // Resource scripts (notify): a shell script; its commands are quoted words.
            name if name.starts_with("resource.d/") => f.text.starts_with("#!/bin/sh\n"),
            "director.conf" => {
                failover::config::settings::parse(Path::new("director.conf"), &f.text).is_ok()
            }
            name => ldirectord::parse(&f.text, name, &resolver).is_ok(),
        };
        assert!(ok, "{} does not load:\n{}", f.name, f.text);
    }
});
