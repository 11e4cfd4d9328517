//! One failover node, for the namespace tests and benchmarks.
//!
//! ```text
//! node --config-dir DIR --state-dir S [--fence ACTION] [--status-every-ms N]
//! ```
//!
//! Loads `ha.cf`, `authkeys` and `haresources` from DIR (node name from `DIR/nodeinfo` or
//! `uname -n`), starts the node and writes its status to `S/status` every N ms (default
//! 50). `--fence` takes `director run`'s actions (default `exit`: a test tool never reboots).
//! SIGTERM / SIGINT: graceful shutdown (release, tell the peer, exit 0). SIGUSR1:
//! standby. SIGUSR2: takeover. Exit status: 0 stopped, 2 config/start error, 3 fenced.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use failover::node::{Node, NodeConfig, NodeExit, NodeStatus, SelfFence};
use tokio::signal::unix::{signal, SignalKind};

fn usage() -> ! {
    eprintln!("usage: node --config-dir DIR --state-dir S [--fence ACTION] [--status-every-ms N]");
    std::process::exit(2)
}

fn render(s: &NodeStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {} phase {} generation {}",
        s.node, s.phase, s.generation
    );
    let _ = writeln!(out, "role {}", s.role());
    let _ = writeln!(out, "standby {}", s.standby);
    let _ = writeln!(out, "ping {}/{}", s.ping_reachable, s.ping_nodes);
    if let Some(p) = &s.peer {
        let ago = p
            .last_heard
            .and_then(|t| t.elapsed().ok())
            .map_or("never".to_string(), |d| format!("{}ms", d.as_millis()));
        let _ = writeln!(
            out,
            "peer {} {} last_heard {ago} role {}",
            p.name,
            p.life,
            p.role.unwrap_or("-")
        );
    }
    for l in &s.links {
        let from = l.from.map_or("-".to_string(), |f| f.to_string());
        let _ = writeln!(
            out,
            "link {} {} from {from} ({})",
            l.iface,
            l.state(),
            l.medium
        );
    }
    for g in &s.groups {
        let _ = writeln!(
            out,
            "group {} local {} peer {} resources {}",
            g.key,
            g.local,
            g.peer,
            g.resources.join(" ")
        );
    }
    for (reason, n) in &s.rejected {
        let _ = writeln!(out, "rejected {reason} {n}");
    }
    for t in &s.tracks {
        let _ = writeln!(out, "{}: {} (weight {})", t.name, t.state, t.weight);
    }
    for t in &s.transitions {
        let ms = t.at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let _ = writeln!(out, "transition {ms} {}", t.what);
    }
    out
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mut config_dir = None;
    let mut state_dir = None;
    let mut fence = SelfFence::Exit;
    let mut every = Duration::from_millis(50);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--config-dir" => config_dir = Some(PathBuf::from(val())),
            "--state-dir" => state_dir = Some(PathBuf::from(val())),
            "--fence" => fence = val().parse().unwrap_or_else(|_| usage()),
            "--status-every-ms" => {
                every = Duration::from_millis(val().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    let (Some(config_dir), Some(state_dir)) = (config_dir, state_dir) else {
        usage()
    };
    let mut cfg = match NodeConfig::load(&config_dir, &state_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    cfg.options.fence = fence;
    cfg.options.boot_root = None;
    let node = match Node::start(cfg) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let status_file = state_dir.join("status");
    let exit = rt.block_on(async {
        let (Ok(mut term), Ok(mut int), Ok(mut usr1), Ok(mut usr2)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) else {
            eprintln!("cannot install signal handlers");
            node.shutdown();
            return tokio::task::spawn_blocking(move || node.wait()).await;
        };
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = usr1.recv() => node.standby(),
                _ = usr2.recv() => node.takeover(),
                _ = tick.tick() => {
                    let tmp = status_file.with_extension("tmp");
                    if std::fs::write(&tmp, render(&node.status())).is_ok() {
                        let _ = std::fs::rename(&tmp, &status_file);
                    }
                    if node.is_finished() {
                        break;
                    }
                }
            }
        }
        node.shutdown();
        let n = node.clone();
        let r = tokio::task::spawn_blocking(move || n.wait()).await;
        let _ = std::fs::write(&status_file, render(&node.status()));
        r
    });
    match exit {
        Ok(Ok(NodeExit::Stopped)) => std::process::exit(0),
        Ok(Ok(NodeExit::Fenced)) => std::process::exit(3),
        Ok(Err(e)) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    }
}
