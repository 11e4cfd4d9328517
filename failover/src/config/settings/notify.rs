//! `[[notify]]`: commands run when a resource group changes role here (keepalived's
//! notify_master, notify_backup, notify_fault, notify_stop and notify).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{line_of, words, Span};
use crate::config::Collector;

/// One `[[notify]]` table: its commands run, through `/bin/sh -c`, when a group (every group,
/// or the one named by `group`) reaches a role here. Every command of every table runs one
/// at a time, in the order the changes happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// The haresources key of the one group this table is about (`None`: every group).
    pub group: Option<String>,
    /// What `command` passes as the group's name (default: its haresources key), so
    /// keepalived scripts that test their instance's name keep working.
    pub name: Option<String>,
    /// Run when a group becomes active here (keepalived's MASTER).
    pub master: Option<String>,
    /// Run when a group is on standby here and this node could take it (BACKUP).
    pub backup: Option<String>,
    /// Run when this node cannot hold a group: it failed to start or its monitor failed
    /// here, or a track fails (FAULT).
    pub fault: Option<String>,
    /// Run when the node stops, once its groups are released (STOP).
    pub stop: Option<String>,
    /// Run at every change, with keepalived's four arguments appended:
    /// `INSTANCE NAME STATE 0` (STATE: MASTER, BACKUP, FAULT or STOP; a pair has no priority).
    pub command: Option<String>,
    /// The longest one command may run before it is killed (default 30 s): the next
    /// notification waits for it.
    pub timeout: Duration,
    /// Its `[[notify]]` line in director.conf.
    pub line: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    group: Option<String>,
    name: Option<String>,
    master: Option<String>,
    backup: Option<String>,
    fault: Option<String>,
    stop: Option<String>,
    command: Option<String>,
    timeout: Option<Spanned<Span>>,
}

/// Reads every `[[notify]]` table, in file order.
pub(super) fn notify_section(
    raw: Vec<Spanned<RawNotify>>,
    text: &str,
    c: &mut Collector,
) -> Vec<Notify> {
    let mut out = Vec::new();
    for n in raw {
        let line = line_of(text, n.span().start);
        let n = n.into_inner();
        let keep = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (master, backup, fault, stop, command) = (
            keep(n.master),
            keep(n.backup),
            keep(n.fault),
            keep(n.stop),
            keep(n.command),
        );
        if [&master, &backup, &fault, &stop, &command]
            .iter()
            .all(|v| v.is_none())
        {
            c.error(
                line,
                "notify: no command: set master, backup, fault, stop or command",
            );
        }
        let timeout = match &n.timeout {
            None => Duration::from_secs(30),
            Some(v) => {
                let d = v.get_ref().0;
                if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
                    c.error(
                        line_of(text, v.span().start),
                        format!("notify: timeout {} is out of range (100ms to 1h)", words(d)),
                    );
                }
                d
            }
        };
        let name = keep(n.name);
        if name
            .as_deref()
            .is_some_and(|s| s.contains(char::is_whitespace))
        {
            c.error(line, "notify: name must be one word (it is one argument)");
        }
        out.push(Notify {
            group: keep(n.group),
            name,
            master,
            backup,
            fault,
            stop,
            command,
            timeout,
            line,
        });
    }
    out
}
