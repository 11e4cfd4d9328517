//! `director.conf` text -> `Settings` or every error, and its `[[service]]` tables laid over an
//! ldirectord file: never panics, the errors name a line of the file (`[peer]`, `[monitor]`,
//! `[sync]`, `[announce]`, `[track]`, `[[notify]]`, `[failback]`, `[[service]]` with its
//! `[service.tunnel]`; the seeds use every key).
#![no_main]

use std::path::Path;

use director::config::{service, Services, StaticResolver};
use failover::config::settings;
use libfuzzer_sys::fuzz_target;

const WWW: &str = "\
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\tservice=http
virtual=192.0.2.132:53
\treal=198.51.100.1:53 gate
\tprotocol=udp
virtual=7
\treal=198.51.100.1 gate
virtual=192.0.2.133:80
\treal=198.51.100.2:80 ipip
";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    match settings::parse(Path::new("director.conf"), &text) {
        Err(e) => {
            assert!(e.diagnostics.iter().any(|d| d.is_error()));
            assert!(e.diagnostics.iter().all(|d| d.line <= lines), "{e}");
        }
        Ok(parsed) => {
            let r = StaticResolver::new(Services::default());
            let (mut config, _) =
                director::config::ldirectord::parse(WWW, "www.cf", &r).expect("a valid file");
            let errors = service::apply(
                &mut config,
                Path::new("www.cf"),
                Path::new("director.conf"),
                &parsed.value.services,
            );
            assert!(errors.iter().all(|d| d.line <= lines), "{errors:?}");
        }
    }
});
