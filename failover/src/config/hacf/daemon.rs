//! The daemon itself: its logs (`logfile`, `debugfile`, `use_logd`, `debug`), its scheduling
//! (`realtime`, `rtprio`), and Heartbeat features director has no use for (`hopfudge`,
//! `autojoin`). `logfacility` is with the values it checks against (`value`).

use std::path::PathBuf;

use super::parser::Parser;
use super::value::parse_bool;

impl Parser {
    pub(super) fn logfile(&mut self, _line: usize, v: &str) {
        self.cf.logfile = Some(PathBuf::from(v));
    }

    pub(super) fn debugfile(&mut self, _line: usize, v: &str) {
        self.cf.debugfile = Some(PathBuf::from(v));
    }

    pub(super) fn use_logd(&mut self, line: usize, v: &str) {
        match parse_bool(v) {
            Some(b) => {
                self.cf.use_logd = Some(b);
                if b {
                    self.c.warn(
                        line,
                        "use_logd yes is ignored by director: it does not use ha_logd; \
                         logfile, debugfile and logfacility are honoured (stderr otherwise)",
                    );
                }
            }
            None => self
                .c
                .error(line, format!("use_logd: invalid boolean [{v}]")),
        }
    }

    pub(super) fn debug(&mut self, line: usize, v: &str) {
        match v.parse::<u8>() {
            Ok(n) => self.cf.debug = n,
            Err(_) => self
                .c
                .error(line, format!("debug: [{v}] is not an integer 0..255")),
        }
    }

    pub(super) fn realtime(&mut self, line: usize, v: &str) {
        match parse_bool(v) {
            Some(b) => self.cf.realtime = b,
            None => self
                .c
                .error(line, format!("realtime: invalid boolean [{v}]")),
        }
    }

    pub(super) fn rtprio(&mut self, line: usize, v: &str) {
        match v.parse::<i32>() {
            Ok(n) if (1..=99).contains(&n) => self.cf.rtprio = Some(n),
            _ => self
                .c
                .error(line, format!("rtprio: [{v}] is not an integer 1..99")),
        }
    }

    pub(super) fn hopfudge(&mut self, line: usize, v: &str) {
        match v.parse::<u8>() {
            Ok(n) => {
                self.cf.hopfudge = n;
                self.c.warn(
                    line,
                    "directive hopfudge is ignored by director: it only matters to \
                     Heartbeat's forwarding on serial rings",
                );
            }
            Err(_) => self
                .c
                .error(line, format!("hopfudge: [{v}] is not an integer 0..255")),
        }
    }

    pub(super) fn autojoin(&mut self, line: usize, v: &str) {
        if !v.eq_ignore_ascii_case("none") {
            self.c.error(
                line,
                format!(
                    "autojoin {v} is not allowed with haresources: \
                     list every node with node directives (autojoin none)"
                ),
            );
        }
    }
}
