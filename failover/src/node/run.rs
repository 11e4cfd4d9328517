//! The loop ([`run`]): reads packets, timers, resource results and commands, feeds them to
//! [`Fsm::step`] and carries out the actions it returns ([`carry_out`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::authkeys::AuthKeys;
use crate::fsm::{Action, Event, Fsm, Level, NodePhase, Origin, PeerLife};
use crate::heartbeat::session::Session;
use crate::packet::{Encoder, Kind, Payload, Phase, Receiver, Rejection};
use crate::peer::{Received, Transport};
use crate::resources::{Resource, Resources, Takeover};
use crate::vip::Vip;
use crate::watchdog::Watchdog;

use super::config::script_env;
use super::fence::fence_self;
use super::handle::{Command, Input};
use super::heartbeat::{accept_heartbeat, heartbeat_outgoing, send_heartbeat, wall_secs};
use super::reject::{log_rejection, rejection_reason, RejectLog};
use super::status::{note_transitions, publish, Transition};
use super::track::{check, Notifier};
use super::{NodeConfig, NodeExit, NodeStatus, PeerReset, SelfFence};

/// The media as the loop sees them: send to all, receive from any.
pub trait Link {
    /// Sends on every medium; returns how many took it.
    fn send(&self, data: &[u8]) -> impl Future<Output = usize>;
    /// The next datagram (`None`: no more will come).
    fn recv(&mut self) -> impl Future<Output = Option<Received>>;
}

impl Link for Transport {
    fn send(&self, data: &[u8]) -> impl Future<Output = usize> {
        Transport::send(self, data)
    }
    fn recv(&mut self) -> impl Future<Output = Option<Received>> {
        Transport::recv(self)
    }
}

/// The loop's state, apart from the I/O handles.
pub(crate) struct LoopParts {
    pub fsm: Fsm,
    /// The peer runs Heartbeat (`director.conf` `[peer] protocol = "heartbeat"`): its
    /// protocol replaces the encoder and receiver.
    pub heartbeat: Option<Session>,
    pub encoder: Encoder,
    pub receiver: Receiver,
    pub keys: AuthKeys,
    /// Resources of each group, in haresources order.
    pub groups: Vec<Vec<Resource>>,
    pub fence: SelfFence,
    pub stonith: PeerReset,
    /// ha.cf's `watchdog`, written at every heartbeat sent; disarmed on a clean stop only.
    pub watchdog: Option<Watchdog>,
    /// ha.cf's media by interface ([`super::configured_links`]): how status describes each
    /// link (`ucast eth0`).
    pub links: Vec<(String, String)>,
    /// Which source addresses the media allow the peer's packets from.
    pub sources: crate::sources::OnLink,
    /// ha.cf's `respawn` programs: started when the node joins, stopped when the loop ends.
    pub clients: Clients,
    /// `[track]`: what [`Action::Track`] checks.
    pub tracks: Tracks,
    /// `[[notify]]`: runs the commands of [`Action::Notify`].
    pub notifier: Notifier,
    pub status: Arc<Mutex<NodeStatus>>,
    /// The operator's state both nodes hold; the peer's, when taken, goes out on
    /// `peer_shared`.
    pub shared: crate::shared::SharedBook,
    pub peer_shared: tokio::sync::watch::Sender<Option<crate::packet::Shared>>,
    /// The configuration running now (a reload replaces its files: [`super::reload`]).
    pub cfg: NodeConfig,
    /// The ping-node loop, while ha.cf has ping nodes.
    pub ping: Option<tokio::task::JoinHandle<()>>,
}

/// The tracks of `director.conf` and what checking them needs.
pub(crate) struct Tracks {
    pub specs: Vec<crate::config::settings::Track>,
    /// A route netlink handle for interface tracks (`None`: no interface is tracked, or
    /// netlink could not be opened: they fail).
    pub links: Option<rtnetlink::Handle>,
    /// The scripts' environment (Heartbeat's `HA_*`).
    pub env: Vec<(String, String)>,
}

/// ha.cf's `respawn` programs of a node: not started until the node joins the cluster, as
/// Heartbeat starts its client children in `comm_now_up()`.
pub(crate) struct Clients {
    children: Vec<crate::config::hacf::Respawn>,
    env: Vec<(String, String)>,
    policy: crate::respawn::Policy,
    running: Option<crate::respawn::Supervisor>,
}

impl Clients {
    pub(super) fn new(cfg: &NodeConfig) -> Clients {
        Clients {
            children: cfg.hacf.respawn.clone(),
            env: script_env(cfg).environment(),
            policy: crate::respawn::Policy::default(),
            running: None,
        }
    }

    /// Starts the programs on `worker` the first time the node is seen running.
    fn join(&mut self, phase: NodePhase, worker: &tokio::runtime::Handle) {
        if self.running.is_some() || self.children.is_empty() || phase != NodePhase::Running {
            return;
        }
        let _rt = worker.enter();
        self.running = Some(crate::respawn::Supervisor::start(
            &self.children,
            &self.env,
            self.policy,
        ));
    }

    /// Stops the programs, last first (Heartbeat stops its children once the resources are
    /// released).
    pub(super) async fn stop(&mut self) {
        if let Some(s) = self.running.take() {
            s.stop().await;
        }
    }
}

/// What the loop keeps beside the Fsm, for `director status` and the packet checks.
pub(super) struct Book {
    pub transitions: VecDeque<Transition>,
    pub rejects: RejectLog,
    /// When the current challenge nonce was chosen.
    pub challenge_since: Instant,
}

/// The node loop: runs until graceful shutdown completes or the node fences itself.
/// Resource work is spawned on `worker`; its results come back through `tx` / `rx`.
pub(crate) async fn run<L: Link, V: Vip>(
    mut parts: LoopParts,
    mut link: L,
    resources: Arc<Resources<V>>,
    worker: tokio::runtime::Handle,
    tx: mpsc::UnboundedSender<Input>,
    mut rx: mpsc::UnboundedReceiver<Input>,
) -> NodeExit {
    let mut book = Book {
        transitions: VecDeque::new(),
        rejects: RejectLog::default(),
        challenge_since: Instant::now(),
    };
    let mut pending = vec![Event::Start];
    let mut link_open = true;
    let mut share_tick = tokio::time::interval(parts.fsm.config().keepalive);
    share_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        for ev in pending.drain(..) {
            let now = Instant::now();
            let before = parts.fsm.status();
            let actions = parts.fsm.step(ev, now);
            super::reload::sync_groups(&mut parts);
            let actions = heartbeat_outgoing(&mut parts, &link, actions, now).await;
            let exit = carry_out(
                &mut parts, &mut book, &link, &resources, &worker, &tx, actions,
            )
            .await;
            parts.clients.join(parts.fsm.phase(), &worker);
            note_transitions(&parts, &before, &mut book);
            publish(&parts, &book);
            if let Some(exit) = exit {
                parts.notifier.finish().await;
                parts.clients.stop().await;
                if let Some(p) = parts.ping.take() {
                    p.abort();
                }
                if exit == NodeExit::Stopped {
                    if let Some(w) = parts.watchdog.take() {
                        w.close();
                    }
                }
                return exit;
            }
        }
        let hb_deadline = parts.heartbeat.as_ref().and_then(Session::next_deadline);
        let deadline = match (parts.fsm.next_deadline(), hb_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            biased;
            r = link.recv(), if link_open => match r {
                Some(r) if parts.heartbeat.is_some() => {
                    let (ev, run) = accept_heartbeat(&mut parts, &mut book, &link, r).await;
                    if !run.is_empty() {
                        carry_out(&mut parts, &mut book, &link, &resources, &worker, &tx, run).await;
                    }
                    pending.extend(ev);
                }
                Some(r) => {
                    if let Some(ev) = accept(&mut parts, &mut book, r) {
                        pending.push(ev);
                    }
                }
                None => {
                    tracing::error!("every heartbeat medium closed: the peer cannot be heard");
                    link_open = false;
                }
            },
            _ = share_tick.tick(), if parts.heartbeat.is_none() => send_shared(&mut parts, &link).await,
            _ = sleep_until(deadline) => {
                if let Some(hb) = parts.heartbeat.as_mut() {
                    let msgs = hb.tick(Instant::now(), wall_secs());
                    send_heartbeat(&parts, &link, msgs).await;
                }
                rotate_challenge(&mut parts, &mut book);
                pending.push(Event::Tick);
            }
            i = rx.recv() => match i {
                Some(Input::Event(ev)) => pending.push(ev),
                Some(Input::Reconfigure(new)) => {
                    pending.extend(super::reload::apply(&mut parts, *new, &tx, &worker).await);
                }
                Some(Input::Keys(keys)) => {
                    tracing::info!(index = keys.active, "authkeys reloaded: signing with key {}", keys.active);
                    parts.receiver.set_keys(keys.clone());
                    parts.keys = keys;
                }
                Some(Input::Share(state)) => {
                    parts.shared.set(state);
                    if parts.heartbeat.is_none() {
                        send_shared(&mut parts, &link).await;
                    }
                }
                Some(Input::Command(c)) => pending.push(match c {
                    Command::Standby => Event::Standby,
                    Command::Takeover => Event::Takeover,
                    Command::Stop => Event::Stop,
                }),
                // Every handle is gone: shut down gracefully.
                None => pending.push(Event::Stop),
            },
        }
    }
}

/// Announces a group's addresses again (gratuitous ARP / unsolicited NA), so neighbours that
/// followed the peer's announcements come back here.
fn reannounce<V: Vip>(
    parts: &LoopParts,
    g: usize,
    resources: &Arc<Resources<V>>,
    worker: &tokio::runtime::Handle,
) {
    let vips: Vec<Resource> = parts
        .groups
        .get(g)
        .map(|rs| {
            rs.iter()
                .filter(|r| matches!(r, Resource::Vip(_)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if vips.is_empty() {
        return;
    }
    let peer = parts.fsm.config().peer.clone().unwrap_or_default();
    let r = resources.clone();
    worker.spawn(async move {
        for v in &vips {
            tracing::info!(resource = %v.display(), "{peer} gave up {}: announcing it again", v.display());
            // Adding a present address only sends the announcements.
            if let Err(e) = r.run(v, crate::resources::Op::Start).await {
                tracing::error!(error = %e, "{e}");
            }
        }
    });
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub(super) fn accept(parts: &mut LoopParts, book: &mut Book, r: Received) -> Option<Event> {
    let now = Instant::now();
    let source_allowed = parts.sources.allows(&r.iface, r.from.ip(), now);
    match parts.receiver.accept_from(&r.data, source_allowed) {
        Ok((msg, _fresh)) if msg.payload.kind == Kind::Shared => {
            // Not a heartbeat: the shared state only.
            if let Some(theirs) = msg.payload.shared {
                if let Some(taken) = parts.shared.heard(theirs) {
                    tracing::info!(
                        "{}: taking its operator state (version {} by {})",
                        msg.node,
                        taken.version,
                        taken.writer
                    );
                    parts.peer_shared.send_replace(Some(taken));
                }
            }
            None
        }
        Ok((msg, _fresh)) => {
            let origin = Origin {
                iface: r.iface,
                from: r.from,
            };
            Some(Event::Packet { msg, origin })
        }
        Err(rej @ Rejection::Unverified { .. }) => {
            // Normal once after either node starts or a partition heals (the peer has not
            // heard our latest nonce yet); counted, and refused like any stale packet.
            tracing::debug!(from = %r.from, iface = %r.iface, "{rej}");
            book.rejects.count("unverified");
            None
        }
        Err(rej) => {
            if let Some(reason) = rejection_reason(&rej) {
                let hint = if r.data.starts_with(b"###\n") || r.data.starts_with(b">>>\n") {
                    "; it is Heartbeat's: set [peer] protocol = \"heartbeat\" in director.conf \
                     to pair with a Heartbeat node"
                } else {
                    ""
                };
                log_rejection(&mut book.rejects, &r, reason, &format!("{rej}{hint}"), now);
            }
            None
        }
    }
}

/// This node's shared state (its version; the state too while the peer shows another) in a
/// [`Kind::Shared`] message; nothing when there is nothing to say. Its status fields mean
/// nothing (the receiver takes the shared state only).
async fn send_shared<L: Link>(parts: &mut LoopParts, link: &L) {
    let Some(shared) = parts.shared.outgoing() else {
        return;
    };
    let payload = Payload {
        kind: Kind::Shared,
        phase: Phase::Running,
        standby: false,
        deadtime_ms: 0,
        ping_reachable: 0,
        track_fault: 0,
        config_digest: 0,
        groups: Vec::new(),
        shared: Some(shared),
    };
    // numbered by the heartbeats' encoder: one replay window for both
    if let Err(e) = sign_and_send(parts, link, &payload).await {
        tracing::error!(
            "cannot send the operator's state to the peer: {e} (too many real servers drained, \
             disabled or reweighted for one packet?)"
        );
    }
}

/// Numbers, signs and sends `payload` on every medium, stamped with the wall clock and the
/// challenge; how many media took it.
async fn sign_and_send<L: Link>(
    parts: &mut LoopParts,
    link: &L,
    payload: &Payload,
) -> Result<usize, crate::packet::EncodeError> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let bytes = parts
        .encoder
        .encode(payload, ts, parts.receiver.stamp(), &parts.keys)?;
    Ok(link.send(&bytes).await)
}

/// A new challenge nonce every deadtime: a message is taken only if it echoes the current
/// or the previous one, so none older than about two deadtimes is ([`Receiver::rotate`]).
fn rotate_challenge(parts: &mut LoopParts, book: &mut Book) {
    let now = Instant::now();
    if now.saturating_duration_since(book.challenge_since) >= parts.fsm.config().deadtime {
        parts.receiver.rotate(rand::random());
        book.challenge_since = now;
    }
}

/// Carries out actions in order; returns how the node ends, if it does.
async fn carry_out<L: Link, V: Vip>(
    parts: &mut LoopParts,
    book: &mut Book,
    link: &L,
    resources: &Arc<Resources<V>>,
    worker: &tokio::runtime::Handle,
    tx: &mpsc::UnboundedSender<Input>,
    actions: Vec<Action>,
) -> Option<NodeExit> {
    let mut exit = None;
    for a in actions {
        match a {
            Action::Send(payload) => match sign_and_send(parts, link, &payload).await {
                Ok(sent) => {
                    if sent == 0 {
                        tracing::debug!("heartbeat not sent on any medium");
                    }
                    // The loop is alive and sending: keep the machine up.
                    if let Some(w) = parts.watchdog.as_mut() {
                        w.tickle();
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot encode heartbeat: {e}"),
            },
            Action::Probe(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let mut running = false;
                    for res in &group {
                        if r.is_running(res).await {
                            tracing::info!(resource = %res.display(), "Resource {} is running here", res.display());
                            running = true;
                        }
                    }
                    let _ = tx.send(Input::Event(Event::Probed { group: g, running }));
                });
            }
            Action::Acquire(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                let takeover = Takeover {
                    from_live_peer: parts.fsm.peer_life() == Some(PeerLife::Alive),
                };
                worker.spawn(async move {
                    let ok = match r.acquire_group(&group, takeover).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Acquired { group: g, ok }));
                });
            }
            Action::Release(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let ok = match r.release_group(&group).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Released { group: g, ok }));
                });
            }
            Action::Monitor(g) => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let mut failed = Vec::new();
                    for (i, res) in group.iter().enumerate() {
                        match r.monitor(res).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(resource = %res.display(), "Resource {} is not running (monitor)", res.display());
                                failed.push(i);
                            }
                            Err(e) => {
                                tracing::warn!(resource = %res.display(), error = %e, "Resource {} monitor failed: {e}", res.display());
                                failed.push(i);
                            }
                        }
                    }
                    let _ = tx.send(Input::Event(Event::Monitored { group: g, failed }));
                });
            }
            Action::Restart {
                group: g,
                resources: which,
            } => {
                let group = parts.groups.get(g).cloned().unwrap_or_default();
                let (r, tx) = (resources.clone(), tx.clone());
                worker.spawn(async move {
                    let ok = match r.restart(&group, &which).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "{e}");
                            false
                        }
                    };
                    let _ = tx.send(Input::Event(Event::Restarted { group: g, ok }));
                });
            }
            Action::ResetPeer(name) => {
                let stonith = parts.stonith.clone();
                let tx = tx.clone();
                worker.spawn(async move {
                    let ok = crate::stonith::reset(&stonith, &name).await;
                    let _ = tx.send(Input::Event(Event::PeerReset { ok }));
                });
            }
            Action::FenceSelf(_) => {
                exit = fence_self(&parts.fence).await.or(exit);
            }
            Action::Log(level, text) => log(level, &text),
            Action::Exit => exit = Some(NodeExit::Stopped),
            Action::Announce(g) => reannounce(parts, g, resources, worker),
            Action::PeerJoined => resources.peer_joined(),
            Action::Dropped(reason) => book.rejects.count(reason),
            Action::Track(i) => {
                let Some(track) = parts.tracks.specs.get(i).cloned() else {
                    continue;
                };
                let links = parts.tracks.links.clone();
                let env = parts.tracks.env.clone();
                let tx = tx.clone();
                worker.spawn(async move {
                    let ok = check(&track, links.as_ref(), &env).await;
                    let _ = tx.send(Input::Event(Event::Tracked { track: i, ok }));
                });
            }
            Action::Notify { group, state } => {
                let key = parts
                    .fsm
                    .config()
                    .groups
                    .get(group)
                    .map(|g| g.key.clone())
                    .unwrap_or_default();
                parts.notifier.notify(&key, state);
            }
        }
    }
    exit
}

fn log(level: Level, text: &str) {
    match level {
        Level::Debug => tracing::debug!("{text}"),
        Level::Info => tracing::info!("{text}"),
        Level::Warn => tracing::warn!("WARN: {text}"),
        Level::Error => tracing::error!("ERROR: {text}"),
        Level::Crit => tracing::error!("CRIT: {text}"),
    }
}
