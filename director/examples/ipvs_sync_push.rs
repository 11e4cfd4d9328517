//! Send this node's whole IPVS connection table to the other director's backup sync daemon,
//! in the kernel's sync format (`director::ipvs::sync`): the catch-up a returning node gets
//! before it takes the VIP back. A test tool for the lab until the daemon does it itself.
//!
//! Usage: `ipvs_sync_push IFACE [SYNCID]` (as root, in the active director's namespace).
//! Prints how many connections went out in how many messages.

use std::net::SocketAddr;
use std::process::ExitCode;

use director::ipvs::client::Client;
use director::ipvs::sync;
use director::ipvs::Ipvs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(iface) = args.get(1) else {
        eprintln!("usage: ipvs_sync_push IFACE [SYNCID]");
        return ExitCode::from(2);
    };
    let syncid = match args.get(2).map(|s| s.parse::<u8>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("ipvs_sync_push: SYNCID: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string("/proc/net/ip_vs_conn") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ipvs_sync_push: /proc/net/ip_vs_conn: {e}");
            return ExitCode::FAILURE;
        }
    };
    let table = match Client::connect().and_then(|mut c| c.dump()) {
        Ok(s) => s.table(),
        Err(e) => {
            eprintln!("ipvs_sync_push: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = sync::parse_conns(&text);
    let messages = sync::encode(&parsed.conns, &table, syncid, sync::DEFAULT_MAXLEN);
    let group = SocketAddr::new(sync::DEFAULT_GROUP.into(), sync::DEFAULT_PORT);
    match sync::send(&messages, iface, group) {
        Ok(n) => {
            println!(
                "sent {} connections in {n} messages to {group} on {iface} ({} lines left out)",
                parsed.conns.len(),
                parsed.skipped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ipvs_sync_push: sending on {iface}: {e}");
            ExitCode::FAILURE
        }
    }
}
