//! A node running the real Heartbeat 3.0.6 (Debian's `heartbeat` package) in a test
//! namespace, after the reference lab's recipe (`failover-baselines.md`, "Running one
//! Heartbeat node per namespace"): `unshare --mount --uts --pid --fork --mount-proc` runs
//! [`INIT`] as PID 1 of a private PID namespace, which
//! 1. sets the hostname and mounts a private tmpfs on `/run` with Heartbeat's runtime dirs;
//! 2. bind-mounts per-node copies of `/etc/ha.d` (the packaged tree plus the test's `ha.cf`,
//!    `authkeys`, `haresources`, `resource.d/*`) and `/var/lib/heartbeat` over the real ones,
//!    in that mount namespace only;
//! 3. bind-mounts a logging stub over `reboot`/`shutdown`/`systemctl` there, so Heartbeat's
//!    failed-stop path (`reboot -nf`) cannot take the test machine down;
//! 4. runs `heartbeat -f` and lives as long as a heartbeat process does.
//!
//! A crash kills PID 1 (the kernel then kills every process of the namespace at once).
#![allow(clippy::disallowed_types)] // real processes and packets, timed on the wall clock

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The daemon.
pub const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

/// PID 1 of a Heartbeat node: `init.sh NAME DIR`.
pub const INIT: &str = r#"#!/bin/sh
set -e
N=$1
D=$2
hostname "$N"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/crm /run/resource-agents
chown -R hacluster:haclient /run/heartbeat /run/crm
chmod 750 /run/heartbeat /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/crm
chmod 1755 /run/resource-agents
rm -rf "$D/ha.d"
mkdir -p "$D/ha.d" "$D/varlib"
cp -a /etc/ha.d/. "$D/ha.d/"
cp "$D/etc/ha.cf" "$D/etc/authkeys" "$D/etc/haresources" "$D/ha.d/"
chmod 600 "$D/ha.d/authkeys"
if [ -d "$D/etc/resource.d" ]; then cp -a "$D/etc/resource.d/." "$D/ha.d/resource.d/"; fi
if [ ! -e "$D/varlib/.copied" ]; then
    cp -a /var/lib/heartbeat/. "$D/varlib/"
    touch "$D/varlib/.copied"
fi
mount --bind "$D/ha.d" /etc/ha.d
mount --bind "$D/varlib" /var/lib/heartbeat
for f in /usr/bin/systemctl /usr/lib/systemd/systemd /usr/sbin/shutdown /usr/sbin/reboot /sbin/reboot; do
    if [ -e "$f" ] && [ ! -L "$f" ]; then mount --bind "$D/stub" "$f"; fi
done
/usr/libexec/heartbeat/heartbeat -f &
sleep 1
while pgrep -x heartbeat >/dev/null; do sleep 0.2; done
"#;

/// What the stub logs instead of rebooting.
const STUB: &str = "#!/bin/sh\necho \"$0 $* (stubbed in the test namespace)\" >> \"$(dirname \"$0\")/stub.log\" 2>/dev/null\nexit 0\n";

/// Writes [`INIT`] and the stub into the node's directory.
pub fn prepare(dir: &Path) -> Result<()> {
    std::fs::write(dir.join("init.sh"), INIT)?;
    std::fs::write(dir.join("stub"), STUB)?;
    for f in ["init.sh", "stub"] {
        crate::pair::set_mode(&dir.join(f), 0o755)?;
    }
    Ok(())
}

/// Whether Debian's heartbeat package is installed.
pub fn installed() -> bool {
    Path::new(HEARTBEAT).exists()
}

/// The command that starts node `name` in namespace `ns`.
pub fn command(ns: &str, name: &str, dir: &Path) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "unshare", "--mount", "--uts", "--pid"])
        .args(["--fork", "--mount-proc", "sh"])
        .arg(dir.join("init.sh"))
        .arg(name)
        .arg(dir);
    cmd
}

/// PID 1 of the node's PID namespace: the child of the `unshare` process `pid`.
pub fn init_pid(pid: u32) -> Result<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .with_context(|| format!("children of {pid}"))?;
    children
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .context("the node's init has not started")
}

/// Runs a program inside the node (its mount, UTS, PID and network namespaces).
pub fn enter(init: u32, args: &[&str]) -> Result<String> {
    let out = Command::new("nsenter")
        .args(["-t", &init.to_string(), "-m", "-u", "-p", "-n", "--"])
        .args(args)
        .output()
        .context("nsenter")?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Captures, in namespace `host` of `lab`, the UDP payloads sent to port 694 from `from`,
/// for `span` (an `AF_PACKET` socket: what arrives on the wire, before any firewall or
/// socket sees it). Runs on its own thread; join the handle for the payloads.
pub fn capture(
    lab: &crate::netns::Lab,
    host: &str,
    from: std::net::Ipv4Addr,
    span: std::time::Duration,
) -> Result<std::thread::JoinHandle<Result<Vec<Vec<u8>>>>> {
    lab.spawn_in(host, move || async move {
        use socket2::{Domain, Protocol, Socket, Type};
        use std::io::Read;
        const ETH_P_IP: u16 = 0x0800;
        let proto = Protocol::from(i32::from(ETH_P_IP.to_be()));
        let mut sock = Socket::new(Domain::PACKET, Type::DGRAM, Some(proto))?;
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while start.elapsed() < span {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            let ip = buf.get(..n).unwrap_or_default();
            let ihl = usize::from(ip.first().map_or(0, |b| b & 0x0f)) * 4;
            let src = ip
                .get(12..16)
                .map(|b| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            let udp = ip.get(9) == Some(&17);
            let port = ip
                .get(ihl + 2..ihl + 4)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            if udp && src == Some(from) && port == Some(694) {
                out.push(ip.get(ihl + 8..).unwrap_or_default().to_vec());
            }
        }
        Ok(out)
    })
}

/// Sends each payload from namespace `host` to `to`:694, 20 ms apart.
pub fn replay(
    lab: &crate::netns::Lab,
    host: &str,
    to: std::net::Ipv4Addr,
    packets: Vec<Vec<u8>>,
) -> Result<()> {
    lab.block_in(host, move || async move {
        let sock = std::net::UdpSocket::bind("0.0.0.0:0")?;
        for p in &packets {
            sock.send_to(p, (to, 694))?;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(())
    })
}
