//! The nodes and what decides between them: `node`, `ping`, `ping_group`, `respawn`,
//! `auto_failback`, `nice_failback`.

use std::path::PathBuf;

use super::parser::Parser;
use super::value::{option_values, parse_bool, parse_host, valid_node_name};
use super::{AutoFailback, PingNode, Respawn};

impl Parser {
    pub(super) fn node(&mut self, line: usize, v: &str) {
        if !valid_node_name(v) {
            self.c.error(line, format!("node: invalid node name [{v}]"));
            return;
        }
        let name = v.to_lowercase();
        if self.cf.nodes.contains(&name) {
            self.c
                .warn(line, format!("node {name} listed more than once"));
        } else if self.cf.nodes.len() >= 100 {
            self.c.error(line, "too many nodes (at most 100)");
        } else {
            self.cf.nodes.push(name);
        }
    }

    pub(super) fn ping(&mut self, line: usize, v: &str) {
        match parse_host(v) {
            Some(host) => self.cf.ping_nodes.push(PingNode {
                name: v.to_lowercase(),
                hosts: vec![host],
            }),
            None => self.c.error(line, format!("ping: invalid address [{v}]")),
        }
    }

    pub(super) fn ping_group(&mut self, line: usize, rest: &str) {
        let words = option_values(rest);
        let Some((name, hosts)) = words.split_first() else {
            self.c
                .error(line, "ping_group: expected ping_group NAME IP [IP...]");
            return;
        };
        if hosts.is_empty() {
            self.c
                .error(line, format!("ping_group {name}: no addresses given"));
            return;
        }
        let mut parsed = Vec::new();
        for h in hosts {
            match parse_host(h) {
                Some(host) => parsed.push(host),
                None => self
                    .c
                    .error(line, format!("ping_group {name}: invalid address [{h}]")),
            }
        }
        self.cf.ping_nodes.push(PingNode {
            name: name.to_lowercase(),
            hosts: parsed,
        });
    }

    pub(super) fn respawn(&mut self, line: usize, rest: &str) {
        let Some((user, command)) = rest.split_once(|c: char| c.is_ascii_whitespace()) else {
            self.c.error(
                line,
                "respawn: expected respawn USER /path/to/program [args...]",
            );
            return;
        };
        let command = command.trim();
        let program = command.split_whitespace().next().unwrap_or_default();
        if !program.starts_with('/') {
            self.c.error(
                line,
                format!("respawn: [{program}] is not an absolute path"),
            );
            return;
        }
        self.cf.respawn.push(Respawn {
            user: user.to_string(),
            command: command.to_string(),
            program: PathBuf::from(program),
            line,
        });
    }

    pub(super) fn auto_failback(&mut self, line: usize, v: &str) {
        let mode = if v.eq_ignore_ascii_case("legacy") {
            Some(AutoFailback::Legacy)
        } else {
            parse_bool(v).map(|b| {
                if b {
                    AutoFailback::On
                } else {
                    AutoFailback::Off
                }
            })
        };
        match mode {
            Some(m) => {
                if self.seen.auto_failback_line.replace(line).is_some() {
                    self.c.warn(
                        line,
                        "auto_failback given again: this value replaces the earlier one",
                    );
                }
                if m == AutoFailback::Legacy {
                    self.c
                        .warn(line, "Deprecated 'legacy' auto_failback option selected");
                }
                self.cf.auto_failback = m;
                self.cf.auto_failback_explicit = true;
            }
            None => self.c.error(
                line,
                format!("auto_failback: invalid value [{v}] (on, off or legacy)"),
            ),
        }
    }

    pub(super) fn nice_failback(&mut self, line: usize, v: &str) {
        match parse_bool(v) {
            Some(b) => {
                let instead = if b { "off" } else { "on" };
                self.c.warn(
                    line,
                    format!(
                        "nice_failback is deprecated: read as auto_failback {instead} \
                         (write auto_failback {instead} instead)"
                    ),
                );
                self.seen.nice_failback = Some((line, b));
            }
            None => self
                .c
                .error(line, format!("nice_failback: invalid boolean [{v}]")),
        }
    }
}
