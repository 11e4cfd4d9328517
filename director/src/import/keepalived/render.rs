//! [`Model`] -> the text of each file, in the formats Heartbeat and ldirectord read (nothing
//! director-only goes into them), and `director.conf` for what only director reads.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::model::*;
use super::parse::Tree;
use super::OutFile;

pub fn render(model: &Model, tree: &Tree) -> Vec<OutFile> {
    let source = tree.files.first().cloned().unwrap_or_default();
    let header = format!("# Written by `director import keepalived` from {source}.\n");
    let mut out = Vec::new();
    if let Some(pair) = &model.pair {
        out.push(file("ha.cf", hacf(pair, &header), 0o644));
        out.push(file("authkeys", authkeys(pair, &header), 0o600));
        out.push(file(
            "haresources",
            haresources(pair, &model.ldirectord, &header),
            0o644,
        ));
    }
    for f in &model.ldirectord {
        out.push(file(&f.name, ldirectord(f, &header), 0o644));
    }
    if let Some(text) = director_conf(&model.ldirectord, &header) {
        out.push(file("director.conf", text, 0o644));
    }
    if let Some(pair) = &model.pair {
        for g in pair.groups.iter().filter(|g| !g.notify.is_empty()) {
            let name = format!("resource.d/{}", notify_name(g));
            out.push(file(&name, notify_script(g, &source), 0o755));
        }
    }
    out
}

fn file(name: &str, text: String, mode: u32) -> OutFile {
    OutFile {
        name: name.to_string(),
        text,
        mode,
    }
}

/// A Heartbeat time: whole seconds, else milliseconds.
fn time(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{ms}ms")
    }
}

fn hacf(p: &Pair, header: &str) -> String {
    let mut t = header.to_string();
    for s in &p.sources {
        let _ = writeln!(t, "# {s}");
    }
    let _ = writeln!(t, "keepalive {}", time(p.keepalive_ms));
    let _ = writeln!(t, "deadtime {}", time(p.deadtime_ms));
    t.push_str("udpport 694\n");
    for m in &p.media {
        let _ = match m {
            Medium::Bcast(iface) => writeln!(t, "bcast {iface}"),
            Medium::Ucast(iface, ip @ IpAddr::V4(_)) => writeln!(t, "ucast {iface} {ip}"),
            Medium::Ucast(iface, ip @ IpAddr::V6(_)) => writeln!(t, "ucast6 {iface} {ip}"),
        };
    }
    let _ = writeln!(
        t,
        "auto_failback {}",
        if p.auto_failback { "on" } else { "off" }
    );
    let _ = writeln!(t, "node {}", p.node);
    let _ = writeln!(t, "node {}", p.peer);
    t
}

fn authkeys(p: &Pair, header: &str) -> String {
    let mut t = header.to_string();
    t.push_str("auth 1\n");
    match &p.key {
        Some(k) => {
            let _ = writeln!(t, "1 sha1 {k}");
        }
        None => t.push_str("1 crc\n"),
    }
    t
}

fn haresources(p: &Pair, files: &[LdFile], header: &str) -> String {
    let mut t = header.to_string();
    for (k, g) in p.groups.iter().enumerate() {
        let node = if g.local_preferred { &p.node } else { &p.peer };
        let mut tokens: Vec<String> = g.resources.clone();
        for f in files.iter().filter(|f| f.group == Some(k)) {
            tokens.push(format!("ldirectord::{}", f.name));
        }
        if !g.notify.is_empty() {
            tokens.push(notify_name(g));
        }
        if tokens.is_empty() {
            // Heartbeat refuses a line with a node and no resource.
            let _ = writeln!(t, "# {}: nothing to hold, left out", g.name);
            continue;
        }
        let _ = writeln!(t, "# {}", g.name);
        let _ = writeln!(t, "{node} {}", tokens.join(" "));
    }
    t
}

fn ldirectord(f: &LdFile, header: &str) -> String {
    let mut t = header.to_string();
    let _ = writeln!(t, "checkinterval={}", f.checkinterval);
    if f.fork {
        t.push_str("# Virtual services check at different intervals: ldirectord needs fork=yes.\n");
        t.push_str("fork=yes\n");
    }
    if let Some(from) = &f.emailalertfrom {
        let _ = writeln!(t, "emailalertfrom={from}");
    }
    if let Some(smtp) = &f.smtp {
        let _ = writeln!(t, "smtp={smtp}");
    }
    for v in &f.virtuals {
        t.push('\n');
        let _ = writeln!(t, "# {}", v.origin);
        let v6 = match v.addr {
            VAddr::Ip(ip, _) => ip.is_ipv6(),
            VAddr::Fwmark { v6, .. } => v6,
        };
        let suffix = if v6 { "6" } else { "" };
        let _ = match v.addr {
            VAddr::Ip(ip, port) => writeln!(t, "virtual{suffix}={}", hostport(ip, port)),
            VAddr::Fwmark { mark, .. } => writeln!(t, "virtual{suffix}={mark}"),
        };
        for r in &v.reals {
            let mut line = format!("\treal{suffix}=");
            if r.port == 0 {
                line.push_str(&host(r.addr));
            } else {
                line.push_str(&hostport(r.addr, r.port));
            }
            let _ = write!(line, " {} {}", r.method.word(), r.weight);
            if r.lower > 0 {
                let _ = write!(line, " l:{}", r.lower);
            }
            if r.upper > 0 {
                let _ = write!(line, " u:{}", r.upper);
            }
            let _ = writeln!(t, "{line}");
        }
        let _ = writeln!(t, "\tscheduler={}", v.scheduler);
        if !v.schedflags.is_empty() {
            let _ = writeln!(t, "\tschedflags={}", v.schedflags.join(","));
        }
        if let VAddr::Ip(..) = v.addr {
            let _ = writeln!(t, "\tprotocol={}", if v.udp { "udp" } else { "tcp" });
        }
        if let Some(p) = v.persistent {
            let _ = writeln!(t, "\tpersistent={p}");
        }
        if let Some(m) = &v.netmask {
            let _ = writeln!(t, "\tnetmask={m}");
        }
        if v.ops && v.udp {
            t.push_str("\tops=yes\n");
        }
        if let Some((ip, port, method)) = v.fallback {
            let addr = match port {
                Some(p) => hostport(ip, p),
                None => host(ip),
            };
            let _ = writeln!(t, "\tfallback{suffix}={addr} {}", method.word());
        }
        let _ = writeln!(t, "\tquiescent={}", if v.quiescent { "yes" } else { "no" });
        if v.alert && !f.emailalert.is_empty() {
            let _ = writeln!(t, "\temailalert={}", f.emailalert.join(","));
        }
        match &v.check {
            Check::On => t.push_str("\tchecktype=on\n"),
            Check::Connect => t.push_str("\tchecktype=connect\n"),
            Check::Ping => t.push_str("\tchecktype=ping\n"),
            Check::External(cmd) => {
                t.push_str("\tchecktype=external\n");
                let _ = writeln!(t, "\tcheckcommand=\"{cmd}\"");
            }
            Check::Negotiate {
                service,
                request,
                receive,
                virtualhost,
                ..
            } => {
                t.push_str("\tchecktype=negotiate\n");
                let _ = writeln!(t, "\tservice={service}");
                if let Some(r) = request {
                    let _ = writeln!(t, "\trequest=\"{r}\"");
                }
                if let Some(r) = receive {
                    let _ = writeln!(t, "\treceive=\"{r}\"");
                }
                if let Some(h) = virtualhost {
                    let _ = writeln!(t, "\tvirtualhost={h}");
                }
            }
        }
        if v.check != Check::On {
            if let Some(p) = v.checkport {
                let _ = writeln!(t, "\tcheckport={p}");
            }
            let _ = writeln!(t, "\tchecktimeout={}", v.timeout);
            let _ = writeln!(t, "\tnegotiatetimeout={}", v.timeout);
            let _ = writeln!(t, "\tfailurecount={}", v.failurecount);
        }
        if f.fork {
            let _ = writeln!(t, "\tcheckinterval={}", v.checkinterval);
        }
    }
    t
}

/// `director.conf`: a `[[service]]` table for each virtual service that needs what ldirectord
/// cannot say (keepalived's quorum, its url blocks); `None` when none does.
fn director_conf(files: &[LdFile], header: &str) -> Option<String> {
    let mut t = header.to_string();
    t.push_str(
        "# What director adds to the ldirectord files: keepalived's quorum and url blocks\n\
         # (docs/director-conf.md). ldirectord does not read this file.\n",
    );
    let mut any = false;
    for f in files {
        for v in &f.virtuals {
            let pages = match &v.check {
                Check::Negotiate { pages, .. } => pages.as_slice(),
                _ => &[],
            };
            if pages.is_empty() && v.quorum.is_none() && v.further.is_empty() {
                continue;
            }
            any = true;
            let origin = v
                .quorum
                .as_ref()
                .map(|q| q.origin.as_str())
                .filter(|o| !o.is_empty())
                .unwrap_or(&v.origin);
            let _ = writeln!(t, "\n# {origin}\n[[service]]");
            let _ = writeln!(t, "file = {}", toml_str(&f.name));
            let _ = match v.addr {
                VAddr::Ip(ip, port) => writeln!(
                    t,
                    "virtual = {}\nprotocol = \"{}\"",
                    toml_str(&hostport(ip, port)),
                    if v.udp { "udp" } else { "tcp" }
                ),
                VAddr::Fwmark { mark, .. } => writeln!(t, "virtual = \"{mark}\""),
            };
            if let Some(q) = &v.quorum {
                let _ = writeln!(t, "quorum = {}\nhysteresis = {}", q.quorum, q.hysteresis);
                for (key, words) in [("quorum_up", &q.up), ("quorum_down", &q.down)] {
                    if let Some(words) = words {
                        let line: Vec<String> = words.iter().map(|w| sh_word(w)).collect();
                        let _ = writeln!(t, "{key} = {}", toml_str(&line.join(" ")));
                    }
                }
            }
            pages_toml(&mut t, pages, "service.url");
            for k in &v.further {
                let _ = writeln!(t, "\n# {}\n[[service.check]]", k.origin);
                let pages = match &k.check {
                    Check::Connect => {
                        t.push_str("checktype = \"connect\"\n");
                        &[][..]
                    }
                    Check::Ping => {
                        t.push_str("checktype = \"ping\"\n");
                        &[][..]
                    }
                    Check::External(cmd) => {
                        let _ =
                            writeln!(t, "checktype = \"external\"\ncommand = {}", toml_str(cmd));
                        &[][..]
                    }
                    Check::Negotiate {
                        service,
                        request,
                        receive,
                        pages,
                        ..
                    } => {
                        let _ = writeln!(t, "checktype = \"negotiate\"\nservice = \"{service}\"");
                        if let Some(r) = request {
                            let _ = writeln!(t, "request = {}", toml_str(r));
                        }
                        if let Some(r) = receive {
                            let _ = writeln!(t, "receive = {}", toml_str(r));
                        }
                        pages.as_slice()
                    }
                    Check::On => &[][..],
                };
                if let Some(p) = k.port {
                    let _ = writeln!(t, "port = {p}");
                }
                let timeout = std::time::Duration::from_millis(k.timeout_ms);
                let _ = writeln!(
                    t,
                    "timeout = \"{}\"",
                    failover::config::settings::words(timeout)
                );
                pages_toml(&mut t, pages, "service.check.url");
            }
        }
    }
    any.then_some(t)
}

/// The `[[TABLE]]` of each page.
fn pages_toml(t: &mut String, pages: &[Page], table: &str) {
    for p in pages {
        let _ = writeln!(t, "\n# {}\n[[{table}]]", p.origin);
        let _ = writeln!(t, "path = {}", toml_str(&p.path));
        if let Some(codes) = &p.status_code {
            let _ = writeln!(t, "status_code = {}", toml_str(codes));
        }
        if let Some(d) = &p.digest {
            let _ = writeln!(t, "digest = {}", toml_str(d));
        }
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => format!("[{v}]"),
    }
}

fn hostport(ip: IpAddr, port: u16) -> String {
    format!("{}:{port}", host(ip))
}

/// The resource script that runs a group's notify scripts: `resource.d/keepalived-notify-NAME`.
fn notify_name(g: &Group) -> String {
    let word: String = g
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("keepalived-notify-{word}")
}

/// One word for sh: single-quoted unless it is plainly safe.
fn sh_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// A Heartbeat resource script (`start`, `stop`, `status`) that runs keepalived's notify
/// scripts: `start` when the group is acquired (keepalived's MASTER), `stop` when it is
/// released (BACKUP). Their exit status is ignored, as keepalived ignores it; `status` says
/// whether the group was started here (a state file), as ResourceManager asks.
fn notify_script(g: &Group, source: &str) -> String {
    let name = notify_name(g);
    let mut t = String::from("#!/bin/sh\n");
    let _ = writeln!(
        t,
        "# Written by `director import keepalived` from {source}:"
    );
    let _ = writeln!(
        t,
        "# the notify scripts of {} ({}), as a Heartbeat resource script:",
        g.name,
        g.notify.origins.join(", ")
    );
    t.push_str(
        "# start = keepalived's MASTER, stop = BACKUP. Exit status 0 whatever they return.\n",
    );
    // HA_RSCTMP: Heartbeat's directory for resource state (cleared at boot).
    let _ = writeln!(t, "state=\"${{HA_RSCTMP:-/run}}/{name}.running\"");
    t.push_str("case \"$1\" in\nstart)\n");
    for cmd in &g.notify.start {
        let words: Vec<String> = cmd.iter().map(|w| sh_word(w)).collect();
        let _ = writeln!(t, "    {} || :", words.join(" "));
    }
    t.push_str("    mkdir -p \"${state%/*}\" && : > \"$state\"\n    ;;\nstop)\n");
    for cmd in &g.notify.stop {
        let words: Vec<String> = cmd.iter().map(|w| sh_word(w)).collect();
        let _ = writeln!(t, "    {} || :", words.join(" "));
    }
    t.push_str("    rm -f \"$state\"\n    ;;\nstatus)\n");
    t.push_str("    if [ -e \"$state\" ]; then echo running; else echo stopped; fi\n    ;;\n");
    t.push_str(
        "*)\n    echo \"usage: $0 start|stop|status\" >&2\n    exit 1\n    ;;\nesac\nexit 0\n",
    );
    t
}
