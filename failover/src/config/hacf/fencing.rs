//! Fencing: `watchdog`, `stonith`, `stonith_host`.

use std::path::PathBuf;

use super::parser::Parser;
use super::Stonith;

impl Parser {
    pub(super) fn watchdog(&mut self, line: usize, v: &str) {
        if std::mem::replace(&mut self.seen.watchdog, true) {
            self.c.error(line, "watchdog may only appear once");
            return;
        }
        if !v.starts_with('/') {
            self.c.error(
                line,
                format!("watchdog: [{v}] is not an absolute device path"),
            );
            return;
        }
        self.cf.watchdog = Some(PathBuf::from(v));
    }

    pub(super) fn stonith(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [kind, config] = words.as_slice() else {
            self.c
                .error(line, "stonith: expected stonith TYPE CONFIGFILE");
            return;
        };
        self.cf.stonith.push(Stonith::File {
            kind: kind.to_string(),
            config: PathBuf::from(config),
            line,
        });
    }

    pub(super) fn stonith_host(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [from, kind, params @ ..] = words.as_slice() else {
            self.c.error(
                line,
                "stonith_host: expected stonith_host FROMHOST|* TYPE PARAMS...",
            );
            return;
        };
        self.cf.stonith.push(Stonith::Host {
            from: from.to_lowercase(),
            kind: kind.to_string(),
            params: params.iter().map(ToString::to_string).collect(),
            line,
        });
    }
}
