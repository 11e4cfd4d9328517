//! Carrying out haresources actions, as Heartbeat's `ResourceManager` does.
//!
//! A resource is a script (`resource.d/NAME` in the config dir, else `/etc/init.d/NAME`)
//! called as `NAME ARG… start|stop|status` with Heartbeat's `HA_*` environment, a virtual
//! address (`IPaddr`, `IPaddr2`, `IPv6addr`, bare `N.N.N.N`) handled natively through
//! [`Vip`], or a [`NativeResource`] registered by the caller (the hook the director uses to
//! run `ldirectord::NAME` in-process). Groups are acquired left to right and released right
//! to left; every script run has a timeout.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use healthcheck::process::Group;
use tokio::io::AsyncReadExt;

use crate::vip::{Vip, VipError, VipKind, VipSpec, VipSpecError};

/// What is asked of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Acquire.
    Start,
    /// Release.
    Stop,
    /// Ask whether it is running.
    Status,
}

impl Op {
    /// The script argument.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Status => "status",
        }
    }
}

/// One haresources entry, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A virtual address, handled by [`Vip`].
    Vip(VipSpec),
    /// Anything else: a script or a registered native resource, `NAME::ARG::ARG`.
    Named {
        /// Script / native name.
        name: String,
        /// `::`-separated arguments.
        args: Vec<String>,
    },
}

impl From<&crate::config::haresources::Resource> for Resource {
    /// The parsed haresources entry; `ldirectord[::NAME]` becomes a named resource (a script,
    /// or the native ldirectord once registered with [`Resources::register_native`]).
    fn from(r: &crate::config::haresources::Resource) -> Self {
        use crate::config::haresources::ResourceKind as K;
        let v4 = |kind, s: &crate::config::haresources::Ipv4Spec| VipSpec {
            kind,
            addr: std::net::IpAddr::V4(s.ip),
            prefix: s.prefix,
            iface: s.iface.clone(),
            broadcast: s.broadcast,
        };
        match &r.kind {
            K::IpAddr(s) => Resource::Vip(v4(VipKind::IpAddr, s)),
            K::IpAddr2(s) => Resource::Vip(v4(VipKind::IpAddr2, s)),
            K::Ipv6Addr(s) => Resource::Vip(VipSpec {
                kind: VipKind::Ipv6Addr,
                addr: std::net::IpAddr::V6(s.ip),
                prefix: s.prefix,
                iface: s.iface.clone(),
                broadcast: None,
            }),
            K::Ldirectord { config } => Resource::Named {
                name: "ldirectord".to_string(),
                args: config.iter().cloned().collect(),
            },
            K::Script { name, args } => Resource::Named {
                name: name.clone(),
                args: args.clone(),
            },
        }
    }
}

/// Looks like `N.N.N.N…`: ResourceManager's test for a bare IP resource.
fn looks_like_ip(token: &str) -> bool {
    let mut parts = token.splitn(4, '.');
    let mut count = 0;
    for p in parts.by_ref() {
        count += 1;
        if count < 4 && !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    count == 4
}

impl Resource {
    /// Classifies one haresources token (`192.0.2.100/24/eth0`, `IPaddr::…`, `httpd`,
    /// `ldirectord::www`, `Filesystem::/dev/sda1::/data1::ext2`).
    pub fn parse(token: &str) -> Result<Resource, VipSpecError> {
        if !token.contains("::") && looks_like_ip(token) {
            return Ok(Resource::Vip(VipSpec::parse_ipaddr(
                VipKind::IpAddr,
                token,
            )?));
        }
        let mut parts = token.split("::");
        let name = parts.next().unwrap_or_default().to_string();
        let args: Vec<String> = parts.map(str::to_string).collect();
        Resource::from_parts(name, args)
    }

    /// Classifies a resource already split into name and arguments.
    pub fn from_parts(name: String, args: Vec<String>) -> Result<Resource, VipSpecError> {
        let kind = match name.as_str() {
            "IPaddr" => Some(VipKind::IpAddr),
            "IPaddr2" => Some(VipKind::IpAddr2),
            "IPv6addr" => Some(VipKind::Ipv6Addr),
            _ => None,
        };
        match kind {
            Some(VipKind::Ipv6Addr) => {
                // `::` is both haresources' separator and IPv6 shorthand: glue it back.
                Ok(Resource::Vip(VipSpec::parse_ipv6addr(&args.join("::"))?))
            }
            Some(kind) if args.len() == 1 => Ok(Resource::Vip(VipSpec::parse_ipaddr(
                kind,
                args.first().map_or("", |a| a),
            )?)),
            Some(_) => Err(VipSpecError::TooManyParts(args.join("::"))),
            None => Ok(Resource::Named { name, args }),
        }
    }

    /// The name heartbeat logs for it (`IPaddr::192.0.2.100/24/eth0`, `ldirectord::www`).
    pub fn display(&self) -> String {
        match self {
            Resource::Vip(s) => s.resource_name(),
            Resource::Named { name, args } if args.is_empty() => name.clone(),
            Resource::Named { name, args } => format!("{name}::{}", args.join("::")),
        }
    }
}

/// ResourceManager's reading of a `status` run: stdout only, exit code ignored.
/// `*not *running*` (any case) is stopped, `*running*` (any case) or `*OK*` is running,
/// anything else (including nothing) is stopped.
pub fn status_says_running(stdout: &str) -> bool {
    let lower = stdout.to_lowercase();
    if let Some(pos) = lower.find("not ") {
        if lower
            .get(pos + 4..)
            .is_some_and(|rest| rest.contains("running"))
        {
            return false;
        }
    }
    lower.contains("running") || stdout.contains("OK")
}

/// Timeouts for script runs (Heartbeat has none; a hung script would hang failover).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For `start`.
    pub start: Duration,
    /// For `stop`.
    pub stop: Duration,
    /// For `status`.
    pub status: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            start: Duration::from_secs(120),
            stop: Duration::from_secs(120),
            status: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    fn of(&self, op: Op) -> Duration {
        match op {
            Op::Start => self.start,
            Op::Stop => self.stop,
            Op::Status => self.status,
        }
    }
}

/// Where scripts live and what they are told.
#[derive(Debug, Clone)]
pub struct ScriptEnv {
    /// Heartbeat's config dir (`/etc/ha.d`): `resource.d/` is looked up here.
    pub config_dir: PathBuf,
    /// Fallback script dir (`/etc/init.d`).
    pub init_dir: PathBuf,
    /// Local node name (`HA_CURHOST`).
    pub node: String,
    /// Extra `HA_*` variables (`HA_LOGFILE`, `HA_DEBUGLOG`, `HA_LOGD`, `HA_debug`,
    /// `HA_NICEFAILBACK`, …), names without the `HA_` prefix.
    pub vars: Vec<(String, String)>,
    /// Per-operation timeouts.
    pub timeouts: Timeouts,
    /// Stop retries before a failed stop is reported (`HA_STOPRETRYMAX`, 10).
    pub stop_retries: u32,
    /// Gap between stop retries (1 s).
    pub stop_retry_delay: Duration,
}

impl ScriptEnv {
    /// Heartbeat's defaults for node `node` and config dir `config_dir`.
    pub fn new(config_dir: impl Into<PathBuf>, node: impl Into<String>) -> Self {
        ScriptEnv {
            config_dir: config_dir.into(),
            init_dir: PathBuf::from("/etc/init.d"),
            node: node.into(),
            vars: Vec::new(),
            timeouts: Timeouts::default(),
            stop_retries: 10,
            stop_retry_delay: Duration::from_secs(1),
        }
    }

    /// The environment a script runs with, as harc / ResourceManager export it.
    pub fn environment(&self) -> Vec<(String, String)> {
        let dir = self.config_dir.display().to_string();
        let mut env = vec![
            ("HA_DIR".to_string(), dir.clone()),
            ("HA_CF".to_string(), format!("{dir}/ha.cf")),
            ("HA_RESOURCEDIR".to_string(), format!("{dir}/resource.d")),
            ("HA_RCDIR".to_string(), format!("{dir}/rc.d")),
            ("HA_FUNCS".to_string(), format!("{dir}/shellfuncs")),
            ("HA_CURHOST".to_string(), self.node.clone()),
            ("HA_VARLIB".to_string(), "/var/lib/heartbeat".to_string()),
            ("HA_RSCTMP".to_string(), "/run/resource-agents".to_string()),
            ("OCF_ROOT".to_string(), "/usr/lib/ocf".to_string()),
        ];
        env.extend(
            self.vars
                .iter()
                .map(|(k, v)| (format!("HA_{k}"), v.clone())),
        );
        env
    }

    /// `resource.d/NAME`, then `init_dir/NAME`; must be an executable regular file.
    pub fn locate(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty() || name.contains('/') {
            return None;
        }
        [
            self.config_dir.join("resource.d").join(name),
            self.init_dir.join(name),
        ]
        .into_iter()
        .find(|p| is_executable_file(p))
    }
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What went wrong with a resource.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// No script by that name.
    #[error("Cannot locate resource script {0}")]
    NotFound(String),
    /// The script could not be run.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// Script path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The script ran past its timeout and was killed.
    #[error("{resource} {op} timed out after {after:?}")]
    Timeout {
        /// Resource name.
        resource: String,
        /// Operation.
        op: &'static str,
        /// Timeout.
        after: Duration,
    },
    /// The script exited non-zero.
    #[error("{resource} {op} failed (exit code {code:?})")]
    Failed {
        /// Resource name.
        resource: String,
        /// Operation.
        op: &'static str,
        /// Exit code, if it exited.
        code: Option<i32>,
    },
    /// A virtual address operation failed.
    #[error("{resource}: {source}")]
    Vip {
        /// Resource name.
        resource: String,
        /// Cause.
        source: VipError,
    },
    /// A native resource failed.
    #[error("{resource}: {message}")]
    Native {
        /// Resource name.
        resource: String,
        /// What it said.
        message: String,
    },
}

/// Result of one script run.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
}

/// Runs `path args… op` with `env`, killing its whole process group on timeout.
pub async fn run_script(
    path: &Path,
    args: &[String],
    op: Op,
    env: &ScriptEnv,
    resource: &str,
) -> Result<ScriptRun, ResourceError> {
    // `status` runs at every probe and monitor round: only start and stop are news.
    if op == Op::Status {
        tracing::debug!(
            resource,
            op = op.as_str(),
            "Running {} {} {}",
            path.display(),
            args.join(" "),
            op.as_str()
        );
    } else {
        tracing::info!(
            resource,
            op = op.as_str(),
            "Running {} {} {}",
            path.display(),
            args.join(" "),
            op.as_str()
        );
    }
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(args)
        .arg(op.as_str())
        .envs(env.environment())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut group = Group::spawn(&mut cmd).map_err(|source| ResourceError::Spawn {
        path: path.to_path_buf(),
        source,
    })?;
    let mut stdout = group.take_stdout();
    let limit = env.timeouts.of(op);
    let work = async {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            // Keep at most 64 KiB: status lines are short.
            let _ = s.take(64 * 1024).read_to_end(&mut out).await;
        }
        let status = group.wait().await;
        (out, status)
    };
    match tokio::time::timeout(limit, work).await {
        Ok((out, status)) => {
            let code = status
                .map_err(|source| ResourceError::Spawn {
                    path: path.to_path_buf(),
                    source,
                })?
                .code();
            Ok(ScriptRun {
                code,
                stdout: String::from_utf8_lossy(&out).into_owned(),
            })
        }
        Err(_) => {
            group.kill();
            tracing::error!(
                resource,
                op = op.as_str(),
                "ERROR: {resource} {} timed out after {limit:?}: killed",
                op.as_str()
            );
            Err(ResourceError::Timeout {
                resource: resource.to_string(),
                op: op.as_str(),
                after: limit,
            })
        }
    }
}

/// A resource carried out in-process instead of by a script (e.g. the director's own
/// ldirectord). `status` returns whether it is running.
pub trait NativeResource: Send + Sync {
    /// Runs `op` with the resource's `::` arguments.
    fn run<'a>(
        &'a self,
        args: &'a [String],
        op: Op,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;

    /// The recurring monitor of the resource held here: whether it is running *and working*
    /// (the director's ldirectord also fails when its health checks have stalled). By default
    /// its `status`.
    fn monitor<'a>(
        &'a self,
        args: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        self.run(args, Op::Status)
    }

    /// Called before a group holding this resource is taken over, before any of its
    /// resources starts (its addresses included): what must be true before the group may run
    /// here. The director's ldirectord waits there, bounded, for the connection table the peer
    /// handed over. By default nothing.
    fn prepare<'a>(
        &'a self,
        args: &'a [String],
        takeover: Takeover,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let _ = (args, takeover);
        Box::pin(std::future::ready(()))
    }

    /// The peer has just been heard again after it was dead or unknown (it started, or came
    /// back). By default nothing.
    fn peer_joined(&self) {}
}

/// How a group is being taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Takeover {
    /// The peer is alive: it gave the group up (failback, standby, takeover) rather than died.
    pub from_live_peer: bool,
}

/// Carries out resource and group operations.
pub struct Resources<V: Vip> {
    vip: Arc<V>,
    env: ScriptEnv,
    natives: HashMap<String, Arc<dyn NativeResource>>,
}

impl<V: Vip> Resources<V> {
    /// Scripts from `env`, addresses through `vip`.
    pub fn new(vip: Arc<V>, env: ScriptEnv) -> Self {
        Resources {
            vip,
            env,
            natives: HashMap::new(),
        }
    }

    /// Routes resources named `name` (e.g. `ldirectord`) to `native` instead of a script.
    pub fn register_native(&mut self, name: impl Into<String>, native: Arc<dyn NativeResource>) {
        self.natives.insert(name.into(), native);
    }

    /// The script environment.
    pub fn env(&self) -> &ScriptEnv {
        &self.env
    }

    /// Runs one operation; for `Status` the result says whether it runs, for start/stop it
    /// is `true` on success.
    pub async fn run(&self, res: &Resource, op: Op) -> Result<bool, ResourceError> {
        let label = res.display();
        match res {
            Resource::Vip(spec) => {
                let vip_err = |source| ResourceError::Vip {
                    resource: label.clone(),
                    source,
                };
                match op {
                    Op::Start => self.vip.add(spec).await.map(|_| true).map_err(vip_err),
                    Op::Stop => self.vip.remove(spec).await.map(|_| true).map_err(vip_err),
                    Op::Status => self.vip.is_present(spec).await.map_err(vip_err),
                }
            }
            Resource::Named { name, args } => {
                if let Some(native) = self.natives.get(name) {
                    return native
                        .run(args, op)
                        .await
                        .map_err(|message| ResourceError::Native {
                            resource: label,
                            message,
                        });
                }
                let path = self
                    .env
                    .locate(name)
                    .ok_or_else(|| ResourceError::NotFound(name.clone()))?;
                let run = run_script(&path, args, op, &self.env, &label).await?;
                match op {
                    Op::Status => Ok(status_says_running(&run.stdout)),
                    _ if run.code == Some(0) => Ok(true),
                    _ => Err(ResourceError::Failed {
                        resource: label,
                        op: op.as_str(),
                        code: run.code,
                    }),
                }
            }
        }
    }

    /// Tells every native resource that the peer joined ([`NativeResource::peer_joined`]).
    pub fn peer_joined(&self) {
        for native in self.natives.values() {
            native.peer_joined();
        }
    }

    /// Whether ResourceManager would consider `res` running (errors count as stopped).
    pub async fn is_running(&self, res: &Resource) -> bool {
        self.run(res, Op::Status).await.unwrap_or(false)
    }

    /// The recurring monitor of a held resource: an address is still configured, a script's
    /// `status` says running, a native resource's [`NativeResource::monitor`] holds. An error
    /// (no script, a timeout) is a failure, and is returned so it can be logged.
    pub async fn monitor(&self, res: &Resource) -> Result<bool, ResourceError> {
        match res {
            Resource::Named { name, args } if self.natives.contains_key(name) => {
                let native = self.natives.get(name).cloned();
                match native {
                    Some(n) => n
                        .monitor(args)
                        .await
                        .map_err(|message| ResourceError::Native {
                            resource: res.display(),
                            message,
                        }),
                    None => Ok(false),
                }
            }
            _ => self.run(res, Op::Status).await,
        }
    }

    /// Restarts `which` (indexes into `group`) in place: stops them right to left (with the
    /// usual retries), then starts them left to right. The first error is returned; a start
    /// is not tried after a failed stop.
    pub async fn restart(&self, group: &[Resource], which: &[usize]) -> Result<(), ResourceError> {
        let chosen: Vec<&Resource> = which.iter().filter_map(|i| group.get(*i)).collect();
        for res in chosen.iter().rev() {
            tracing::info!(resource = %res.display(), "Restarting resource {}: stopping it", res.display());
            self.stop_with_retries(res).await?;
        }
        for res in &chosen {
            tracing::info!(resource = %res.display(), "Restarting resource {}: starting it", res.display());
            self.run(res, Op::Start).await?;
        }
        Ok(())
    }

    /// `takegroup`: first each native resource's [`NativeResource::prepare`], then left to
    /// right, skip what already runs, start the rest. On the first failure what was started
    /// (and the failed resource) is released again, right to left, and the error returned.
    pub async fn acquire_group(
        &self,
        group: &[Resource],
        takeover: Takeover,
    ) -> Result<(), ResourceError> {
        for res in group {
            if let Resource::Named { name, args } = res {
                if let Some(native) = self.natives.get(name) {
                    native.prepare(args, takeover).await;
                }
            }
        }
        for (i, res) in group.iter().enumerate() {
            if self.is_running(res).await {
                tracing::info!(resource = %res.display(), "Resource is already running: {}", res.display());
                continue;
            }
            if let Err(e) = self.run(res, Op::Start).await {
                tracing::error!(resource = %res.display(), error = %e, "CRIT: Giving up resources due to failure of {}", res.display());
                let _ = self.release_group(group.get(..=i).unwrap_or(group)).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// `givegroup`: right to left, stop each. A failing stop is retried; if it still fails
    /// while status says running, the error is returned (Heartbeat would reboot here).
    /// Every resource is attempted; the first error is returned.
    pub async fn release_group(&self, group: &[Resource]) -> Result<(), ResourceError> {
        let mut first_err = None;
        for res in group.iter().rev() {
            if let Err(e) = self.stop_with_retries(res).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn stop_with_retries(&self, res: &Resource) -> Result<(), ResourceError> {
        let mut tries = 0;
        loop {
            match self.run(res, Op::Stop).await {
                Ok(_) => return Ok(()),
                Err(e) if tries + 1 >= self.env.stop_retries.max(1) => {
                    if self.is_running(res).await {
                        tracing::error!(resource = %res.display(), error = %e, "CRIT: Resource {} failed to stop: still running, manual intervention needed (Heartbeat would reboot)", res.display());
                        return Err(e);
                    }
                    tracing::warn!(resource = %res.display(), "Resource {} stop failed but status says stopped: probably not LSB-compliant", res.display());
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(resource = %res.display(), error = %e, "retrying stop of {}", res.display());
                    tries += 1;
                    tokio::time::sleep(self.env.stop_retry_delay).await;
                }
            }
        }
    }
}

/// Places that start `name` at boot outside the cluster (the seed's "httpd on both nodes"):
/// `/etc/rc?.d/S??NAME` and systemd `*.wants/NAME.service` links under `root`.
pub fn boot_enabled(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for rc in ["rc2.d", "rc3.d", "rc4.d", "rc5.d", "rcS.d"] {
        let dir = root.join("etc").join(rc);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let file = e.file_name();
            let f = file.to_string_lossy();
            let is_start = f.starts_with('S')
                && f.get(1..3)
                    .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
                && f.get(3..) == Some(name);
            if is_start {
                found.push(e.path());
            }
        }
    }
    for base in [
        "etc/systemd/system",
        "lib/systemd/system",
        "usr/lib/systemd/system",
    ] {
        let dir = root.join(base);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().ends_with(".wants") {
                continue;
            }
            let unit = e.path().join(format!("{name}.service"));
            if unit.symlink_metadata().is_ok() {
                found.push(unit);
            }
        }
    }
    found.sort();
    found
}

/// Logs a warning for each resource script of `groups` that is also started at boot.
pub fn warn_boot_enabled(root: &Path, groups: &[Vec<Resource>]) {
    for res in groups.iter().flatten() {
        if let Resource::Named { name, .. } = res {
            for place in boot_enabled(root, name) {
                tracing::warn!(resource = %name, path = %place.display(), "resource {name} is also started at boot ({}): it may run on both nodes; disable it (systemctl disable {name})", place.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Mutex;

    const LIVE: Takeover = Takeover {
        from_live_peer: true,
    };

    /// Records what is asked of it, and what the VIP looked like when `prepare` ran.
    struct Gate {
        vip: Arc<FakeVip>,
        calls: Mutex<Vec<String>>,
    }

    impl NativeResource for Gate {
        fn run<'a>(
            &'a self,
            args: &'a [String],
            op: Op,
        ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
            if let Ok(mut c) = self.calls.lock() {
                c.push(format!("{} {}", op.as_str(), args.join(",")));
            }
            Box::pin(std::future::ready(Ok(op != Op::Status)))
        }

        fn prepare<'a>(
            &'a self,
            args: &'a [String],
            takeover: Takeover,
        ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
            let vips = self.vip.up.lock().map(|u| u.len()).unwrap_or(99);
            if let Ok(mut c) = self.calls.lock() {
                c.push(format!(
                    "prepare {} live={} vips={vips}",
                    args.join(","),
                    takeover.from_live_peer
                ));
            }
            Box::pin(std::future::ready(()))
        }

        fn peer_joined(&self) {
            if let Ok(mut c) = self.calls.lock() {
                c.push("joined".into());
            }
        }
    }

    /// `prepare` runs before any resource of the group starts, its address included, even
    /// when the native resource is written after the address.
    #[tokio::test]
    async fn natives_are_prepared_before_the_group_starts() {
        let dir = scratch("prepare");
        let vip = Arc::new(FakeVip::default());
        let gate = Arc::new(Gate {
            vip: vip.clone(),
            calls: Mutex::new(Vec::new()),
        });
        let mut res = Resources::new(vip.clone(), ScriptEnv::new(&dir, "ha01"));
        res.register_native("ldirectord", gate.clone());
        let group: Vec<Resource> = ["IPaddr::192.0.2.100/24", "ldirectord::www.cf"]
            .iter()
            .map(|t| Resource::parse(t).unwrap())
            .collect();
        let dead = Takeover {
            from_live_peer: false,
        };
        res.acquire_group(&group, dead).await.unwrap();
        res.peer_joined();
        assert_eq!(
            *gate.calls.lock().unwrap(),
            vec![
                "prepare www.cf live=false vips=0",
                "status www.cf",
                "start www.cf",
                "joined"
            ]
        );
        assert_eq!(vip.up.lock().unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn status_rules() {
        assert!(status_says_running("httpd (pid 42) is running..."));
        assert!(status_says_running("INFO:  Running OK"));
        assert!(status_says_running("all OK"));
        assert!(!status_says_running("httpd is not running"));
        assert!(!status_says_running("NOT  Running"));
        assert!(!status_says_running("INFO:  Resource is stopped"));
        assert!(!status_says_running(""));
        assert!(!status_says_running("ok"));
    }

    #[test]
    fn classifies_tokens() {
        assert!(matches!(
            Resource::parse("192.0.2.100"),
            Ok(Resource::Vip(_))
        ));
        assert!(matches!(
            Resource::parse("192.0.2.100/24/eth0"),
            Ok(Resource::Vip(_))
        ));
        let r = Resource::parse("IPaddr2::192.0.2.100/24").unwrap();
        assert_eq!(r.display(), "IPaddr2::192.0.2.100/24");
        let r = Resource::parse("IPv6addr::2001:db8::10/64").unwrap();
        assert!(matches!(&r, Resource::Vip(s) if s.addr.to_string() == "2001:db8::10"));
        assert_eq!(
            Resource::parse("ldirectord::www").unwrap(),
            Resource::Named {
                name: "ldirectord".into(),
                args: vec!["www".into()]
            }
        );
        assert_eq!(
            Resource::parse("Filesystem::/dev/sda1::/data1::ext2")
                .unwrap()
                .display(),
            "Filesystem::/dev/sda1::/data1::ext2"
        );
        assert!(Resource::parse("IPaddr::httpd").is_err());
        assert!(matches!(
            Resource::parse("httpd"),
            Ok(Resource::Named { .. })
        ));
    }

    /// A fake [`Vip`] recording calls.
    #[derive(Default)]
    struct FakeVip {
        up: Mutex<Vec<std::net::IpAddr>>,
    }

    impl Vip for FakeVip {
        async fn add(&self, s: &VipSpec) -> Result<crate::vip::Placement, VipError> {
            if let Ok(mut up) = self.up.lock() {
                up.push(s.addr);
            }
            Ok(crate::vip::Placement {
                index: 1,
                ifname: "eth0".into(),
                prefix: 24,
                label: None,
            })
        }
        async fn remove(&self, s: &VipSpec) -> Result<(), VipError> {
            if let Ok(mut up) = self.up.lock() {
                up.retain(|a| *a != s.addr);
            }
            Ok(())
        }
        async fn is_present(&self, s: &VipSpec) -> Result<bool, VipError> {
            Ok(self.up.lock().map(|u| u.contains(&s.addr)).unwrap_or(false))
        }
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fo-res-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("resource.d")).unwrap();
        d
    }

    /// An LSB-ish script keeping state in `dir/NAME.state` and logging calls to `dir/log`.
    fn script(dir: &Path, name: &str, start_exit: i32) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("resource.d").join(name);
        let body = format!(
            "#!/bin/sh\nS={d}/{name}.state\necho \"{name} $* $HA_CURHOST\" >> {d}/log\n\
             case \"$1\" in\n start) [ {start_exit} = 0 ] && touch $S; exit {start_exit};;\n \
             stop) rm -f $S;;\n status) [ -e $S ] && echo \"{name} is running\" || echo \"{name} is stopped\";;\n \
             sleep) sleep 30;;\n esac\n",
            d = dir.display()
        );
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn log(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    }

    #[tokio::test]
    async fn group_order_and_rollback() {
        let dir = scratch("group");
        script(&dir, "a", 0);
        script(&dir, "b", 0);
        script(&dir, "bad", 1);
        let vip = Arc::new(FakeVip::default());
        let res = Resources::new(vip.clone(), ScriptEnv::new(&dir, "ha01"));
        let group: Vec<Resource> = ["192.0.2.100/24", "a", "b"]
            .iter()
            .map(|t| Resource::parse(t).unwrap())
            .collect();
        res.acquire_group(&group, LIVE).await.unwrap();
        assert_eq!(vip.up.lock().unwrap().len(), 1);
        assert_eq!(
            log(&dir),
            "a status ha01\na start ha01\nb status ha01\nb start ha01\n"
        );
        // Already running: only status is asked.
        res.acquire_group(&group, LIVE).await.unwrap();
        assert_eq!(log(&dir).lines().count(), 6);
        std::fs::remove_file(dir.join("log")).unwrap();
        res.release_group(&group).await.unwrap();
        assert_eq!(log(&dir), "b stop ha01\na stop ha01\n");
        assert!(vip.up.lock().unwrap().is_empty());

        std::fs::remove_file(dir.join("log")).unwrap();
        let group: Vec<Resource> = ["192.0.2.100", "a", "bad", "b"]
            .iter()
            .map(|t| Resource::parse(t).unwrap())
            .collect();
        assert!(res.acquire_group(&group, LIVE).await.is_err());
        assert!(
            vip.up.lock().unwrap().is_empty(),
            "VIP left behind after failed start"
        );
        assert!(
            !dir.join("a.state").exists(),
            "a left running after failed start"
        );
        assert!(!log(&dir).contains("b start"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    #[allow(clippy::disallowed_types)] // times a real script on the wall clock
    async fn missing_script_and_timeout() {
        let dir = scratch("timeout");
        script(&dir, "slow", 0);
        let mut env = ScriptEnv::new(&dir, "ha01");
        env.init_dir = dir.join("no-init.d");
        env.timeouts.start = Duration::from_millis(200);
        let res = Resources::new(Arc::new(FakeVip::default()), env.clone());
        let e = res
            .run(&Resource::parse("nosuch").unwrap(), Op::Start)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Cannot locate resource script nosuch");
        let started = std::time::Instant::now();
        let path = env.locate("slow").unwrap();
        // `slow sleep start` sleeps 30 s on its first argument.
        let e = run_script(&path, &["sleep".into()], Op::Start, &env, "slow").await;
        assert!(matches!(e, Err(ResourceError::Timeout { .. })), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn finds_boot_links() {
        let root = scratch("boot");
        std::fs::create_dir_all(root.join("etc/rc3.d")).unwrap();
        std::fs::create_dir_all(root.join("etc/systemd/system/multi-user.target.wants")).unwrap();
        std::fs::write(root.join("etc/rc3.d/S20httpd"), "").unwrap();
        std::fs::write(root.join("etc/rc3.d/K20httpd"), "").unwrap();
        std::fs::write(root.join("etc/rc3.d/S20httpd2"), "").unwrap();
        std::os::unix::fs::symlink(
            "/lib/systemd/system/httpd.service",
            root.join("etc/systemd/system/multi-user.target.wants/httpd.service"),
        )
        .unwrap();
        let found = boot_enabled(&root, "httpd");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(boot_enabled(&root, "apache2").is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn from_parsed_haresources() {
        let text = "ha01 192.0.2.100/24/eth0 IPaddr2::192.0.2.101 ldirectord::www httpd\n";
        let parsed = crate::config::haresources::parse(Path::new("haresources"), text);
        let Ok(parsed) = parsed else {
            panic!("haresources did not parse: {parsed:?}")
        };
        let group = parsed.value.groups.first().expect("one group");
        let res: Vec<Resource> = group.resources.iter().map(Resource::from).collect();
        let shown: Vec<String> = res.iter().map(Resource::display).collect();
        assert_eq!(
            shown,
            [
                "IPaddr::192.0.2.100/24/eth0",
                "IPaddr2::192.0.2.101",
                "ldirectord::www",
                "httpd"
            ]
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = Resource::parse(&s);
            let _ = status_says_running(&s);
        }
    }
}
