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
    // director.conf: the pair's tracks, notify commands and failback hold, then what the
    // ldirectord files cannot say; written when there is any.
    let pair = model
        .pair
        .as_ref()
        .and_then(|p| pair_tables(p, &model.ldirectord));
    let services = service_tables(&model.ldirectord);
    if pair.is_some() || services.is_some() {
        let text = format!(
            "{header}{}{}",
            pair.unwrap_or_default(),
            services.unwrap_or_default()
        );
        out.push(file("director.conf", text, 0o644));
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

/// The resources of group `k` as haresources writes them (the first is the group's key).
fn tokens(g: &Group, k: usize, files: &[LdFile]) -> Vec<String> {
    let mut tokens: Vec<String> = g.resources.clone();
    for f in files.iter().filter(|f| f.group == Some(k)) {
        tokens.push(format!("ldirectord::{}", f.name));
    }
    tokens
}

fn haresources(p: &Pair, files: &[LdFile], header: &str) -> String {
    let mut t = header.to_string();
    for (k, g) in p.groups.iter().enumerate() {
        let node = if g.local_preferred { &p.node } else { &p.peer };
        let tokens = tokens(g, k, files);
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
/// The `[[service]]` tables: what director adds to the ldirectord files' virtual services
/// (quorum, url pages, further checks); `None` when no virtual service needs one.
fn service_tables(files: &[LdFile]) -> Option<String> {
    use failover::config::settings::{Checksum, Tunnel};
    let mut t = String::from(
        "\n# What director adds to the ldirectord files: keepalived's quorum and url blocks\n\
         # (docs/director-conf.md). ldirectord does not read this file.\n",
    );
    let mut any = false;
    for f in files {
        for v in &f.virtuals {
            let pages = match &v.check {
                Check::Negotiate { pages, .. } => pages.as_slice(),
                _ => &[],
            };
            if pages.is_empty() && v.quorum.is_none() && v.further.is_empty() && v.tunnel.is_none()
            {
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
            if let Some(Tunnel::Gue { port, checksum }) = v.tunnel {
                let checksum = match checksum {
                    Checksum::Nocsum => "nocsum",
                    Checksum::Csum => "csum",
                    Checksum::Remcsum => "remcsum",
                };
                let _ = writeln!(
                    t,
                    "\n[service.tunnel]\ntype = \"gue\"\nport = {port}\nchecksum = \"{checksum}\""
                );
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

/// One word for sh: single-quoted unless it is plainly safe.
pub(super) fn sh_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// A director.conf duration.
fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("\"{}s\"", ms / 1000)
    } else {
        format!("\"{ms}ms\"")
    }
}

/// The pair's tables: `[track]`, `[[notify]]`, `[failback]`; `None` when it has none.
fn pair_tables(p: &Pair, files: &[LdFile]) -> Option<String> {
    let mut t = String::new();
    let mut any = false;
    for tr in &p.tracks {
        any = true;
        let _ = writeln!(t, "\n# {}", tr.origin);
        match &tr.kind {
            TrackKind::Script {
                command,
                timeout_ms,
            } => {
                let _ = writeln!(t, "[track.script.{}]", toml_str(&tr.name));
                let _ = writeln!(t, "script = {}", toml_str(command));
                let _ = writeln!(t, "timeout = {}", duration(*timeout_ms));
            }
            TrackKind::Interface => {
                let _ = writeln!(t, "[track.interface.{}]", toml_str(&tr.name));
            }
        }
        if let Some(ms) = tr.interval_ms {
            let _ = writeln!(t, "interval = {}", duration(ms));
        }
        if let Some(n) = tr.fall {
            let _ = writeln!(t, "fall = {n}");
        }
        if let Some(n) = tr.rise {
            let _ = writeln!(t, "rise = {n}");
        }
        let _ = writeln!(t, "weight = {}", tr.weight);
    }
    for (k, g) in p.groups.iter().enumerate() {
        // A group left out of haresources (nothing to hold) has no key to notify about.
        let Some(key) = tokens(g, k, files).into_iter().next() else {
            continue;
        };
        for n in &g.notify {
            any = true;
            let _ = writeln!(t, "\n# {}", n.origin);
            t.push_str("[[notify]]\n");
            let _ = writeln!(t, "group = {}", toml_str(&key));
            let _ = writeln!(t, "name = {}", toml_str(&n.name));
            for (k, v) in [
                ("master", &n.master),
                ("backup", &n.backup),
                ("fault", &n.fault),
                ("stop", &n.stop),
                ("command", &n.command),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(t, "{k} = {}", toml_str(v));
                }
            }
        }
    }
    if let Some((ms, origin)) = &p.failback_hold {
        any = true;
        let _ = writeln!(t, "\n# {origin}\n[failback]\nhold = {}", duration(*ms));
    }
    any.then_some(t)
}
