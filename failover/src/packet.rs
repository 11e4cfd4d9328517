//! director's heartbeat protocol: one authenticated message per UDP datagram.
//!
//! This is **not** Heartbeat's wire format (that one is [`crate::heartbeat`], for a peer still
//! running Heartbeat); it carries what [`crate::fsm`] needs and is described byte by byte in
//! `docs/protocol.md`.
//! Every message is a full status report (phase, operator standby flag, ping reachability,
//! the state of every resource group), so a lost message is repaired by the next one.
//!
//! - [`emit`] / [`parse`]: the pure codec, with the MAC from `authkeys`
//!   (HMAC-SHA1, HMAC-MD5, or CRC-32 for `crc`, which authenticates nothing).
//! - [`Encoder`]: stamps our node name, generation and sequence numbers.
//! - [`Receiver`]: parse + sender checks (known node, not ourselves) + replay window per peer,
//!   keyed by (generation, seq): older generations and already-seen seqs are refused; and
//!   the freshness challenge: every message carries the sender's current random nonce and
//!   echoes the latest nonce it heard from the receiver. A message is taken only when its
//!   echo is the receiver's current or previous nonce (rotated every deadtime), so a packet
//!   captured before the receiver restarted, or longer ago than two rotations, is refused
//!   however new its (generation, seq) looks: no state needs to survive a restart for that.

use std::collections::HashMap;

use hmac::{Hmac, Mac};

use crate::config::authkeys::{AuthKeys, AuthMethod};

/// First four bytes of every packet.
pub const MAGIC: [u8; 4] = *b"DRHB";
/// The protocol version this code speaks (2: the freshness challenge, nonce and echo).
pub const VERSION: u8 = 2;
/// Largest packet we emit or accept (the UDP payload limit).
pub const MAX_PACKET: usize = 65_507;
/// Bytes before the node name: magic .. echo.
pub const FIXED_HEADER: usize = 59;
/// How many sequence numbers behind the highest seen are still accepted (out of order).
pub const REPLAY_WINDOW: u64 = 64;

/// Why a message was sent. Every kind carries the full status; the kind says what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Periodic status (every keepalive) or an immediate one after a local change.
    Heartbeat = 1,
    /// "I have released the groups shown Standby": the acknowledgement a new owner waits for
    /// before it acquires (release -> ack -> acquire).
    Released = 2,
    /// Operator `takeover` on the sender: please go standby and hand every group over.
    Takeover = 3,
    /// The sender released everything and is shutting down: take over now, no deadtime wait.
    Leaving = 4,
    /// State the operator set that both nodes hold ([`Shared`]: director's drained,
    /// disabled and reweighted real servers); no group status (its group count is 0), not
    /// a heartbeat.
    Shared = 5,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Kind::Heartbeat,
            2 => Kind::Released,
            3 => Kind::Takeover,
            4 => Kind::Leaving,
            5 => Kind::Shared,
            _ => return None,
        })
    }
}

/// The sender's node-wide phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Starting: probing its resources, waiting for the peer or initdead. Its group states are
    /// not meaningful yet; it may still hold stray resources.
    Init = 1,
    /// Taking part in ownership decisions.
    Running = 2,
    /// Shutting down: releasing everything, will not acquire.
    Stopping = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Phase::Init,
            2 => Phase::Running,
            3 => Phase::Stopping,
            _ => return None,
        })
    }
}

/// What a node is doing with one resource group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// Not probed yet (phase Init).
    Unknown = 0,
    /// Not held; ready to take it.
    Standby = 1,
    /// Starting its resources.
    Acquiring = 2,
    /// Held.
    Active = 3,
    /// Stopping its resources (handing over, or shutting down).
    Releasing = 4,
    /// Could not start it here; will not try again for a while.
    Failed = 5,
    /// Stopping stray resources found running here without owning the group; not a claim.
    Cleaning = 6,
}

impl GroupState {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => GroupState::Unknown,
            1 => GroupState::Standby,
            2 => GroupState::Acquiring,
            3 => GroupState::Active,
            4 => GroupState::Releasing,
            5 => GroupState::Failed,
            6 => GroupState::Cleaning,
            _ => return None,
        })
    }

    /// The node holds (or may hold) the group's resources as owner.
    pub fn claims(self) -> bool {
        matches!(
            self,
            GroupState::Acquiring | GroupState::Active | GroupState::Releasing
        )
    }
}

/// One group's state in a message. Groups are named by their haresources key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupStatus {
    pub key: String,
    pub state: GroupState,
}

/// What the state machine says in a message (everything but the sender's identity and
/// sequencing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payload {
    pub kind: Kind,
    pub phase: Phase,
    /// Operator standby: the node yields every group to a peer that can take it.
    pub standby: bool,
    /// The deadtime the receiver should apply to the sender (as Heartbeat's `dt`).
    pub deadtime_ms: u32,
    /// Ping nodes (and ping groups) the sender currently reaches.
    pub ping_reachable: u16,
    /// The summed weight of the sender's failing tracks (`director.conf` `[track]`), 0 to
    /// 127: bits 1 to 7 of the flags byte, which older nodes ignore.
    pub track_fault: u8,
    /// Digest of the sender's haresources ([`crate::config::haresources::Haresources::digest`]).
    pub config_digest: u32,
    pub groups: Vec<GroupStatus>,
    /// [`Kind::Shared`] only: the shared state (ignored for the other kinds).
    pub shared: Option<Shared>,
}

/// The operator's state both nodes hold, carried by [`Kind::Shared`] messages: its version
/// and the node that wrote it (the higher `(version, writer)` wins), and the state itself
/// (opaque here) when the receiver's copy is not the sender's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shared {
    pub version: u64,
    pub writer: String,
    pub data: Option<Vec<u8>>,
}

impl Shared {
    /// Whether this state was written after `other`'s (`(version, writer)` order).
    pub fn newer_than(&self, version: u64, writer: &str) -> bool {
        (self.version, self.writer.as_str()) > (version, writer)
    }
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// The sender's node name (lower case).
    pub node: String,
    /// Incremented by the sender on every start and persisted (Heartbeat's `hg`).
    pub generation: u64,
    /// Per-generation sequence number, from 1.
    pub seq: u64,
    /// The sender's wall clock, ms since the Unix epoch. Informational: never checked.
    pub timestamp_ms: u64,
    /// The sender's current challenge nonce (random, never 0), which the receiver echoes.
    pub nonce: u64,
    /// The latest nonce the sender heard from the receiver (0: none yet).
    pub echo: u64,
    /// The authkeys index that signed it.
    pub auth_index: u8,
    pub payload: Payload,
}

/// A message could not be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("node name must be 1..=255 bytes")]
    NodeName,
    #[error("too many resource groups ({0}, at most 255)")]
    TooManyGroups(usize),
    #[error("resource group key must be 1..=255 bytes: [{0}]")]
    GroupKey(String),
    #[error("message too long ({0} bytes)")]
    TooLong(usize),
    #[error("the shared state's writer must be 1..=255 bytes")]
    Writer,
}

/// A packet was not a valid, authentic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet too short ({0} bytes)")]
    Short(usize),
    #[error("packet too long ({0} bytes)")]
    TooLong(usize),
    #[error("not a director heartbeat packet (bad magic)")]
    BadMagic,
    #[error("unsupported protocol version {0} (this node speaks {VERSION})")]
    BadVersion(u8),
    #[error("key index {0} is not in authkeys")]
    UnknownKey(u8),
    #[error("authentication failed (key index {0})")]
    BadAuth(u8),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}

/// A packet was refused by the [`Receiver`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Authentic, but from a node not listed in ha.cf.
    #[error("packet from unknown node [{0}]")]
    UnknownNode(String),
    /// Our own packet came back (broadcast, multicast loop, or a ucast line to ourselves).
    #[error("our own packet")]
    Own,
    /// A generation older than one already seen from that node.
    #[error("attempted replay attack from [{node}]: generation {generation} < {current}")]
    OldGeneration {
        node: String,
        generation: u64,
        current: u64,
    },
    /// A (generation, seq) already seen, or too far behind to tell.
    #[error("duplicate or replayed packet from [{node}] (generation {generation}, seq {seq})")]
    Replay {
        node: String,
        generation: u64,
        seq: u64,
    },
    /// Authentic, but it does not answer our current challenge: sent before the sender heard
    /// our latest nonce (normal once after either node starts or a partition heals), or
    /// captured earlier and replayed.
    #[error("packet from [{node}] does not answer our current challenge (stale or replayed)")]
    Unverified { node: String },
    /// Authentic, from a source address the media of its interface do not allow.
    #[error("packet from [{node}] comes from an address its medium does not allow (ucast peer, or the interface's subnets for bcast/mcast)")]
    Source { node: String },
}

fn mac_len(method: &AuthMethod) -> usize {
    match method {
        AuthMethod::Crc => 4,
        AuthMethod::Md5(_) => 16,
        AuthMethod::Sha1(_) => 20,
    }
}

fn compute_mac(method: &AuthMethod, data: &[u8]) -> Vec<u8> {
    match method {
        AuthMethod::Crc => crc32fast::hash(data).to_be_bytes().to_vec(),
        AuthMethod::Md5(key) => match Hmac::<md5::Md5>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC accepts keys of any length; this arm cannot be taken.
            Err(_) => vec![0; 16],
        },
        AuthMethod::Sha1(key) => match Hmac::<sha1::Sha1>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => vec![0; 20],
        },
    }
}

fn verify_mac(method: &AuthMethod, data: &[u8], tag: &[u8]) -> bool {
    match method {
        AuthMethod::Crc => crc32fast::hash(data).to_be_bytes() == tag,
        AuthMethod::Md5(key) => Hmac::<md5::Md5>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.verify_slice(tag).is_ok()
            })
            .unwrap_or(false),
        AuthMethod::Sha1(key) => Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mut m| {
                m.update(data);
                m.verify_slice(tag).is_ok()
            })
            .unwrap_or(false),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> bool {
    match u8::try_from(s.len()) {
        Ok(n) if n > 0 => {
            out.push(n);
            out.extend_from_slice(s.as_bytes());
            true
        }
        _ => false,
    }
}

/// Encodes and signs `msg` with the `auth N` key of `keys` (the `auth_index` field of `msg` is
/// ignored: the signing index is written).
pub fn emit(msg: &Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let (index, method) = keys.signing();
    let p = &msg.payload;
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(index);
    out.push(p.kind as u8);
    out.push(p.phase as u8);
    out.push(u8::from(p.standby) | (p.track_fault.min(127) << 1));
    out.extend_from_slice(&msg.generation.to_be_bytes());
    out.extend_from_slice(&msg.seq.to_be_bytes());
    out.extend_from_slice(&msg.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&p.deadtime_ms.to_be_bytes());
    out.extend_from_slice(&p.config_digest.to_be_bytes());
    out.extend_from_slice(&p.ping_reachable.to_be_bytes());
    out.extend_from_slice(&msg.nonce.to_be_bytes());
    out.extend_from_slice(&msg.echo.to_be_bytes());
    if !put_str(&mut out, &msg.node) {
        return Err(EncodeError::NodeName);
    }
    let count =
        u8::try_from(p.groups.len()).map_err(|_| EncodeError::TooManyGroups(p.groups.len()))?;
    out.push(count);
    for g in &p.groups {
        if !put_str(&mut out, &g.key) {
            return Err(EncodeError::GroupKey(g.key.clone()));
        }
        out.push(g.state as u8);
    }
    if p.kind == Kind::Shared {
        let shared = p.shared.clone().unwrap_or_default();
        out.extend_from_slice(&shared.version.to_be_bytes());
        if !put_str(&mut out, &shared.writer) {
            return Err(EncodeError::Writer);
        }
        match &shared.data {
            None => out.push(0),
            Some(data) => {
                out.push(1);
                let n = u32::try_from(data.len()).map_err(|_| EncodeError::TooLong(data.len()))?;
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(data);
            }
        }
    }
    let tag = compute_mac(method, &out);
    out.extend_from_slice(&tag);
    if out.len() > MAX_PACKET {
        return Err(EncodeError::TooLong(out.len()));
    }
    Ok(out)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Malformed(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = usize::from(self.u8(what)?);
        if n == 0 {
            return Err(DecodeError::Malformed(what));
        }
        let bytes = self.take(n, what)?;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::Malformed(what))?;
        Ok(s.to_string())
    }
}

/// Decodes and authenticates one packet. Pure and stateless: sender and replay checks are
/// the [`Receiver`]'s.
pub fn parse(bytes: &[u8], keys: &AuthKeys) -> Result<Message, DecodeError> {
    if bytes.len() > MAX_PACKET {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    if bytes.len() < FIXED_HEADER {
        return Err(DecodeError::Short(bytes.len()));
    }
    if bytes.get(..4) != Some(&MAGIC[..]) {
        return Err(DecodeError::BadMagic);
    }
    let version = bytes.get(4).copied().unwrap_or_default();
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let index = bytes.get(5).copied().unwrap_or_default();
    let method = keys.get(index).ok_or(DecodeError::UnknownKey(index))?;
    let tag_len = mac_len(method);
    let Some(body_len) = bytes
        .len()
        .checked_sub(tag_len)
        .filter(|n| *n >= FIXED_HEADER)
    else {
        return Err(DecodeError::Short(bytes.len()));
    };
    let (body, tag) = bytes.split_at(body_len);
    if !verify_mac(method, body, tag) {
        return Err(DecodeError::BadAuth(index));
    }
    let mut r = Reader {
        rest: body.get(6..).unwrap_or_default(),
    };
    let kind_byte = r.u8("kind")?;
    let kind = Kind::from_u8(kind_byte).ok_or(DecodeError::UnknownKind(kind_byte))?;
    let phase = Phase::from_u8(r.u8("phase")?).ok_or(DecodeError::Malformed("unknown phase"))?;
    let flags = r.u8("flags")?;
    let generation = u64::from_be_bytes(r.array("generation")?);
    let seq = u64::from_be_bytes(r.array("seq")?);
    let timestamp_ms = u64::from_be_bytes(r.array("timestamp")?);
    let deadtime_ms = u32::from_be_bytes(r.array("deadtime")?);
    let config_digest = u32::from_be_bytes(r.array("config digest")?);
    let ping_reachable = u16::from_be_bytes(r.array("ping count")?);
    let nonce = u64::from_be_bytes(r.array("nonce")?);
    let echo = u64::from_be_bytes(r.array("echo")?);
    let node = r.string("node name")?;
    let count = r.u8("group count")?;
    let mut groups = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let key = r.string("group key")?;
        let state = GroupState::from_u8(r.u8("group state")?)
            .ok_or(DecodeError::Malformed("unknown group state"))?;
        groups.push(GroupStatus { key, state });
    }
    let shared = if kind == Kind::Shared {
        let version = u64::from_be_bytes(r.array("shared version")?);
        let writer = r.string("shared writer")?;
        let data = match r.u8("shared data flag")? {
            0 => None,
            1 => {
                let n = u32::from_be_bytes(r.array("shared data length")?);
                let n = usize::try_from(n).map_err(|_| DecodeError::Malformed("shared data"))?;
                Some(r.take(n, "shared data")?.to_vec())
            }
            _ => return Err(DecodeError::Malformed("shared data flag")),
        };
        Some(Shared {
            version,
            writer,
            data,
        })
    } else {
        None
    };
    if !r.rest.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(Message {
        node,
        generation,
        seq,
        timestamp_ms,
        nonce,
        echo,
        auth_index: index,
        payload: Payload {
            kind,
            phase,
            standby: flags & 1 != 0,
            deadtime_ms,
            ping_reachable,
            track_fault: flags >> 1,
            config_digest,
            groups,
            shared,
        },
    })
}

/// Stamps outgoing messages with our name, generation and the next sequence number.
#[derive(Debug, Clone)]
pub struct Encoder {
    node: String,
    generation: u64,
    next_seq: u64,
}

impl Encoder {
    /// `generation` must be larger than any this node used before (the caller persists it,
    /// e.g. a counter file incremented and fsync'd at every start).
    pub fn new(node: impl Into<String>, generation: u64) -> Self {
        Encoder {
            node: node.into(),
            generation,
            next_seq: 1,
        }
    }

    /// Our generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Builds, numbers and signs a message, with the challenge fields of `stamp`
    /// ([`Receiver::stamp`]). The sequence number is used up even if encoding fails, so it
    /// is never reused.
    pub fn encode(
        &mut self,
        payload: &Payload,
        timestamp_ms: u64,
        stamp: Stamp,
        keys: &AuthKeys,
    ) -> Result<Vec<u8>, EncodeError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let msg = Message {
            node: self.node.clone(),
            generation: self.generation,
            seq,
            timestamp_ms,
            nonce: stamp.nonce,
            echo: stamp.echo,
            auth_index: keys.active,
            payload: payload.clone(),
        };
        emit(&msg, keys)
    }
}

/// Which (generation, seq) pairs have been seen from one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayWindow {
    generation: u64,
    highest: u64,
    /// Bit i set: `highest - i` was seen.
    seen: u64,
}

/// How a fresh packet relates to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The first packet from this peer.
    First,
    /// A higher generation than before: the peer restarted.
    NewGeneration,
    /// Same generation, not seen before (possibly out of order).
    Fresh,
}

impl ReplayWindow {
    /// Checks a packet against the window without recording it.
    pub fn check(
        window: Option<&Self>,
        node: &str,
        generation: u64,
        seq: u64,
    ) -> Result<Freshness, Rejection> {
        let Some(w) = window else {
            return Ok(Freshness::First);
        };
        if generation < w.generation {
            return Err(Rejection::OldGeneration {
                node: node.to_string(),
                generation,
                current: w.generation,
            });
        }
        if generation > w.generation {
            return Ok(Freshness::NewGeneration);
        }
        if seq > w.highest {
            return Ok(Freshness::Fresh);
        }
        let behind = w.highest - seq;
        if behind >= REPLAY_WINDOW || w.seen & (1u64 << behind) != 0 {
            return Err(Rejection::Replay {
                node: node.to_string(),
                generation,
                seq,
            });
        }
        Ok(Freshness::Fresh)
    }

    /// Records an accepted packet (after [`ReplayWindow::check`] said it is fresh).
    pub fn record(window: Option<Self>, generation: u64, seq: u64) -> Self {
        match window {
            Some(w) if w.generation == generation => {
                if seq > w.highest {
                    let shift = seq - w.highest;
                    let seen = if shift >= 64 { 0 } else { w.seen << shift };
                    ReplayWindow {
                        generation,
                        highest: seq,
                        seen: seen | 1,
                    }
                } else {
                    ReplayWindow {
                        seen: w.seen | (1u64 << (w.highest - seq)),
                        ..w
                    }
                }
            }
            _ => ReplayWindow {
                generation,
                highest: seq,
                seen: 1,
            },
        }
    }
}

/// The challenge fields of an outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// Our current nonce.
    pub nonce: u64,
    /// The latest nonce heard from the peer (0: none yet).
    pub echo: u64,
}

/// What the receiver knows of one peer.
#[derive(Debug, Clone, Copy, Default)]
struct PeerState {
    window: Option<ReplayWindow>,
    /// The latest nonce heard from it in an authentic, not replayed packet (0: none yet).
    nonce: u64,
}

/// Accepts packets for the local node: authentic, from a configured peer, not replayed, and
/// answering our current challenge.
#[derive(Debug, Clone)]
pub struct Receiver {
    local: String,
    keys: AuthKeys,
    peers: HashMap<String, PeerState>,
    /// Our nonce now, and the one before the last rotation (0: none).
    nonce: u64,
    previous: u64,
    /// The peer whose nonce we echo (the last one heard; a pair has one).
    echo_of: Option<String>,
}

impl Receiver {
    /// `nodes` are ha.cf's node names (the local one may be among them; it is ignored).
    /// `nonce` is our first challenge: random, and not 0 (0 is made 1).
    pub fn new(
        local: &str,
        nodes: impl IntoIterator<Item = String>,
        keys: AuthKeys,
        nonce: u64,
    ) -> Self {
        let local = local.to_lowercase();
        let peers = nodes
            .into_iter()
            .map(|n| n.to_lowercase())
            .filter(|n| *n != local)
            .map(|n| (n, PeerState::default()))
            .collect();
        Receiver {
            local,
            keys,
            peers,
            nonce: nonce.max(1),
            previous: 0,
            echo_of: None,
        }
    }

    /// Replaces the keys (authkeys re-read on reload). Replay windows are kept.
    pub fn set_keys(&mut self, keys: AuthKeys) {
        self.keys = keys;
    }

    /// Starts a new challenge period with `nonce` (random, not 0): from now on a message must
    /// echo it or the one before. The caller rotates every deadtime, which bounds how old an
    /// accepted message can be to about two deadtimes.
    pub fn rotate(&mut self, nonce: u64) {
        self.previous = self.nonce;
        self.nonce = nonce.max(1);
    }

    /// The challenge fields for the next message we send.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            nonce: self.nonce,
            echo: self
                .echo_of
                .as_ref()
                .and_then(|n| self.peers.get(n))
                .map_or(0, |p| p.nonce),
        }
    }

    /// Decodes one datagram, returning the message with how fresh it is, or why it was
    /// refused. Only accepted packets move the peer's replay window. An authentic packet that
    /// is not a replay but does not answer our challenge ([`Rejection::Unverified`]) still
    /// teaches us the sender's nonce, so our next message lets it answer.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<(Message, Freshness), Rejection> {
        self.accept_from(bytes, true)
    }

    /// As [`Receiver::accept`], for a packet whose source address the media allow
    /// (`source_allowed`, [`crate::sources`]) or not: an authentic packet from a source the
    /// media do not allow is refused before it can touch the peer's window or nonce.
    pub fn accept_from(
        &mut self,
        bytes: &[u8],
        source_allowed: bool,
    ) -> Result<(Message, Freshness), Rejection> {
        let msg = parse(bytes, &self.keys)?;
        if msg.node == self.local {
            return Err(Rejection::Own);
        }
        let Some(peer) = self.peers.get_mut(&msg.node) else {
            return Err(Rejection::UnknownNode(msg.node));
        };
        if !source_allowed {
            return Err(Rejection::Source { node: msg.node });
        }
        let fresh = ReplayWindow::check(peer.window.as_ref(), &msg.node, msg.generation, msg.seq)?;
        // Only a message at least as new as the newest accepted teaches us a nonce: an older
        // one (reordered, or replayed within the window) must not roll it back.
        let newest = peer
            .window
            .is_none_or(|w| (msg.generation, msg.seq) > (w.generation, w.highest));
        if newest && msg.nonce != 0 {
            peer.nonce = msg.nonce;
            self.echo_of = Some(msg.node.clone());
        }
        let answers = msg.echo != 0 && (msg.echo == self.nonce || msg.echo == self.previous);
        if !answers {
            return Err(Rejection::Unverified { node: msg.node });
        }
        peer.window = Some(ReplayWindow::record(peer.window, msg.generation, msg.seq));
        Ok((msg, fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The receivers' nonce in these tests; messages echo it unless a test says otherwise.
    const ECHO: u64 = 0x00c0_ffee;
    /// What the peers in these tests send: their nonce, and our nonce echoed.
    const STAMP: Stamp = Stamp {
        nonce: 5,
        echo: ECHO,
    };

    fn keys() -> AuthKeys {
        AuthKeys::single(2, AuthMethod::Sha1(b"HI!".to_vec()))
    }

    fn payload() -> Payload {
        Payload {
            kind: Kind::Heartbeat,
            phase: Phase::Running,
            standby: false,
            deadtime_ms: 30_000,
            ping_reachable: 2,
            track_fault: 5,
            config_digest: 0xdead_beef,
            groups: vec![
                GroupStatus {
                    key: "IPaddr::192.0.2.100/24/eth0".into(),
                    state: GroupState::Active,
                },
                GroupStatus {
                    key: "192.0.2.101".into(),
                    state: GroupState::Standby,
                },
            ],
            shared: None,
        }
    }

    fn message(node: &str, generation: u64, seq: u64) -> Message {
        Message {
            node: node.into(),
            generation,
            seq,
            timestamp_ms: 1_700_000_000_000,
            nonce: 5,
            echo: ECHO,
            auth_index: 2,
            payload: payload(),
        }
    }

    #[test]
    fn round_trip_every_method() {
        for method in [
            AuthMethod::Crc,
            AuthMethod::Md5(b"Hello!".to_vec()),
            AuthMethod::Sha1(b"HI!".to_vec()),
        ] {
            let k = AuthKeys::single(3, method);
            let m = Message {
                auth_index: 3,
                ..message("ha02", 7, 9)
            };
            let bytes = emit(&m, &k).unwrap();
            assert_eq!(parse(&bytes, &k).unwrap(), m);
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let k = AuthKeys::single(2, AuthMethod::Crc);
        let m = Message {
            payload: Payload {
                groups: vec![GroupStatus {
                    key: "a".into(),
                    state: GroupState::Active,
                }],
                ..payload()
            },
            ..message("b", 1, 2)
        };
        let bytes = emit(&m, &k).unwrap();
        let mut expect = b"DRHB".to_vec();
        // flags: bit 0 standby (no), bits 1..7 the failing tracks' weight (5).
        expect.extend([2, 2, 1, 2, 5 << 1]);
        expect.extend(1u64.to_be_bytes());
        expect.extend(2u64.to_be_bytes());
        expect.extend(1_700_000_000_000u64.to_be_bytes());
        expect.extend(30_000u32.to_be_bytes());
        expect.extend(0xdead_beefu32.to_be_bytes());
        expect.extend(2u16.to_be_bytes());
        expect.extend(5u64.to_be_bytes());
        expect.extend(ECHO.to_be_bytes());
        expect.extend([1, b'b', 1, 1, b'a', 3]);
        assert_eq!(expect.len(), FIXED_HEADER + 6);
        let crc = crc32fast::hash(&expect);
        expect.extend(crc.to_be_bytes());
        assert_eq!(bytes, expect);
    }

    #[test]
    fn hmac_sha1_matches_rfc2202() {
        // RFC 2202 test case 2.
        let mac = compute_mac(
            &AuthMethod::Sha1(b"Jefe".to_vec()),
            b"what do ya want for nothing?",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        let mac = compute_mac(
            &AuthMethod::Md5(b"Jefe".to_vec()),
            b"what do ya want for nothing?",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn every_decode_rejection() {
        let k = keys();
        let good = emit(&message("ha02", 1, 1), &k).unwrap();
        assert_eq!(parse(&good[..10], &k), Err(DecodeError::Short(10)));
        assert_eq!(
            parse(&vec![0; MAX_PACKET + 1], &k),
            Err(DecodeError::TooLong(MAX_PACKET + 1))
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(parse(&bad, &k), Err(DecodeError::BadMagic));
        let mut bad = good.clone();
        bad[4] = 9;
        assert_eq!(parse(&bad, &k), Err(DecodeError::BadVersion(9)));
        let mut bad = good.clone();
        bad[5] = 7;
        assert_eq!(parse(&bad, &k), Err(DecodeError::UnknownKey(7)));
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse(&bad, &k), Err(DecodeError::BadAuth(2)));
        let other = AuthKeys::single(2, AuthMethod::Sha1(b"wrong".to_vec()));
        assert_eq!(parse(&good, &other), Err(DecodeError::BadAuth(2)));
        // Same key, different algorithm: refused too.
        let md5 = AuthKeys::single(2, AuthMethod::Md5(b"HI!".to_vec()));
        assert_eq!(parse(&good, &md5), Err(DecodeError::BadAuth(2)));

        // Structural errors behind a valid MAC (a buggy or newer peer with the right key).
        let resign = |mut body: Vec<u8>| {
            let tag = compute_mac(k.signing().1, &body);
            body.extend(tag);
            body
        };
        let body = good[..good.len() - 20].to_vec();
        let mut b = body.clone();
        b[6] = 99;
        assert_eq!(parse(&resign(b), &k), Err(DecodeError::UnknownKind(99)));
        let mut b = body.clone();
        b[7] = 0;
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("unknown phase"))
        );
        let mut b = body.clone();
        b.push(0);
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("trailing bytes"))
        );
        let mut b = body.clone();
        b.truncate(b.len() - 1);
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("group state"))
        );
        let mut b = body.clone();
        let state_at = b.len() - 1;
        b[state_at] = 42;
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("unknown group state"))
        );
        let mut b = body.clone();
        b[FIXED_HEADER] = 0;
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("node name"))
        );
        let mut b = body;
        b[FIXED_HEADER + 1] = 0xff;
        assert_eq!(
            parse(&resign(b), &k),
            Err(DecodeError::Malformed("node name"))
        );
    }

    #[test]
    fn encode_errors() {
        let k = keys();
        assert_eq!(emit(&message("", 1, 1), &k), Err(EncodeError::NodeName));
        assert_eq!(
            emit(&message(&"x".repeat(256), 1, 1), &k),
            Err(EncodeError::NodeName)
        );
        let mut m = message("a", 1, 1);
        m.payload.groups = vec![
            GroupStatus {
                key: "k".into(),
                state: GroupState::Active
            };
            256
        ];
        assert_eq!(emit(&m, &k), Err(EncodeError::TooManyGroups(256)));
        m.payload.groups = vec![GroupStatus {
            key: String::new(),
            state: GroupState::Active,
        }];
        assert!(matches!(emit(&m, &k), Err(EncodeError::GroupKey(_))));
    }

    #[test]
    fn receiver_checks_sender_and_replay() {
        let k = keys();
        let mut rx = Receiver::new(
            "ha01",
            ["ha01".to_string(), "HA02".to_string()],
            k.clone(),
            ECHO,
        );
        let mut tx = Encoder::new("ha02", 5);
        let p1 = tx.encode(&payload(), 0, STAMP, &k).unwrap();
        let p2 = tx.encode(&payload(), 0, STAMP, &k).unwrap();
        let p3 = tx.encode(&payload(), 0, STAMP, &k).unwrap();
        assert_eq!(rx.accept(&p1).unwrap().1, Freshness::First);
        // Out of order is fine; a second copy is not.
        assert_eq!(rx.accept(&p3).unwrap().1, Freshness::Fresh);
        assert_eq!(rx.accept(&p2).unwrap().1, Freshness::Fresh);
        assert_eq!(
            rx.accept(&p2),
            Err(Rejection::Replay {
                node: "ha02".into(),
                generation: 5,
                seq: 2
            })
        );
        assert!(matches!(
            rx.accept(&p1),
            Err(Rejection::Replay { seq: 1, .. })
        ));

        // A restart (higher generation) resets the window; the old generation is then refused.
        let mut restarted = Encoder::new("ha02", 6);
        let q1 = restarted.encode(&payload(), 0, STAMP, &k).unwrap();
        assert_eq!(rx.accept(&q1).unwrap().1, Freshness::NewGeneration);
        let old = tx.encode(&payload(), 0, STAMP, &k).unwrap();
        assert_eq!(
            rx.accept(&old),
            Err(Rejection::OldGeneration {
                node: "ha02".into(),
                generation: 5,
                current: 6
            })
        );

        let mut me = Encoder::new("ha01", 1);
        assert_eq!(
            rx.accept(&me.encode(&payload(), 0, STAMP, &k).unwrap()),
            Err(Rejection::Own)
        );
        let mut stranger = Encoder::new("ha03", 1);
        assert_eq!(
            rx.accept(&stranger.encode(&payload(), 0, STAMP, &k).unwrap()),
            Err(Rejection::UnknownNode("ha03".into()))
        );
        assert!(matches!(
            rx.accept(b"garbage"),
            Err(Rejection::Decode(DecodeError::Short(7)))
        ));
    }

    /// The attack of the hardening issue: a packet captured from the peer (its takeover
    /// request) is replayed after this node restarted, with the peer down or cut off. The
    /// restarted node's window is empty, but the packet echoes the old boot's nonce.
    #[test]
    fn a_packet_captured_before_a_restart_is_refused() {
        let k = keys();
        let mut peer = Encoder::new("ha02", 1);
        let mut before = Receiver::new("ha01", ["ha02".to_string()], k.clone(), 0x1111);
        let captured = peer
            .encode(
                &payload(),
                0,
                Stamp {
                    nonce: 5,
                    echo: 0x1111,
                },
                &k,
            )
            .unwrap();
        assert!(before.accept(&captured).is_ok());
        // ha01 restarts: a new receiver, a new nonce, no window.
        let mut after = Receiver::new("ha01", ["ha02".to_string()], k.clone(), 0x2222);
        assert_eq!(
            after.accept(&captured).map(|_| ()),
            Err(Rejection::Unverified {
                node: "ha02".into()
            })
        );
        // However often.
        assert!(after.accept(&captured).is_err());
        // The live peer hears the new nonce and answers it: accepted.
        let live = peer
            .encode(
                &payload(),
                0,
                Stamp {
                    nonce: 6,
                    echo: after.stamp().nonce,
                },
                &k,
            )
            .unwrap();
        assert!(after.accept(&live).is_ok());
        // And the captured one stays refused (now also by the window).
        assert!(after.accept(&captured).is_err());
    }

    /// A packet never seen (captured on the peer's side of a partition) is taken only while
    /// its echo is our current or previous nonce: a rotation later yes, two no.
    #[test]
    fn an_echo_older_than_two_rotations_is_stale() {
        let k = keys();
        let mut peer = Encoder::new("ha02", 1);
        let mut rx = Receiver::new("ha01", ["ha02".to_string()], k.clone(), 0x1111);
        let first = peer
            .encode(
                &payload(),
                0,
                Stamp {
                    nonce: 5,
                    echo: 0x1111,
                },
                &k,
            )
            .unwrap();
        assert!(rx.accept(&first).is_ok());
        let held1 = peer
            .encode(
                &payload(),
                0,
                Stamp {
                    nonce: 5,
                    echo: 0x1111,
                },
                &k,
            )
            .unwrap();
        let held2 = peer
            .encode(
                &payload(),
                0,
                Stamp {
                    nonce: 5,
                    echo: 0x1111,
                },
                &k,
            )
            .unwrap();
        rx.rotate(0x3333);
        assert!(
            rx.accept(&held1).is_ok(),
            "one rotation: the previous nonce still answers"
        );
        rx.rotate(0x4444);
        assert_eq!(
            rx.accept(&held2).map(|_| ()),
            Err(Rejection::Unverified {
                node: "ha02".into()
            })
        );
    }

    /// Two nodes that both just started agree within one message each way.
    #[test]
    fn the_challenge_is_answered_within_one_exchange() {
        let k = keys();
        let (mut ea, mut eb) = (Encoder::new("a", 1), Encoder::new("b", 1));
        let mut ra = Receiver::new("a", ["b".to_string()], k.clone(), 0xaaaa);
        let mut rb = Receiver::new("b", ["a".to_string()], k.clone(), 0xbbbb);
        let a1 = ea.encode(&payload(), 0, ra.stamp(), &k).unwrap();
        assert!(matches!(rb.accept(&a1), Err(Rejection::Unverified { .. })));
        let b1 = eb.encode(&payload(), 0, rb.stamp(), &k).unwrap();
        assert!(ra.accept(&b1).is_ok(), "b echoes a's nonce at once");
        let a2 = ea.encode(&payload(), 0, ra.stamp(), &k).unwrap();
        assert!(rb.accept(&a2).is_ok());
        assert_eq!(ra.stamp().echo, 0xbbbb);
        assert_eq!(rb.stamp().echo, 0xaaaa);
    }

    #[test]
    fn window_edges() {
        let w = ReplayWindow::record(None, 1, 100);
        assert_eq!(
            ReplayWindow::check(Some(&w), "p", 1, 36),
            Err(Rejection::Replay {
                node: "p".into(),
                generation: 1,
                seq: 36
            })
        );
        assert_eq!(
            ReplayWindow::check(Some(&w), "p", 1, 37),
            Ok(Freshness::Fresh)
        );
        let w = ReplayWindow::record(Some(w), 1, 1000);
        assert_eq!(
            ReplayWindow::check(Some(&w), "p", 1, 999),
            Ok(Freshness::Fresh)
        );
        assert!(ReplayWindow::check(Some(&w), "p", 1, 1000).is_err());
        assert!(ReplayWindow::check(Some(&w), "p", 1, 100).is_err());
    }

    #[test]
    fn key_rotation_verifies_with_each_index() {
        let mut both = AuthKeys::single(1, AuthMethod::Sha1(b"new".to_vec()));
        both.keys.insert(2, AuthMethod::Md5(b"old".to_vec()));
        let old_sender = AuthKeys::single(2, AuthMethod::Md5(b"old".to_vec()));
        let bytes = emit(&message("ha02", 1, 1), &old_sender).unwrap();
        assert_eq!(parse(&bytes, &both).unwrap().auth_index, 2);
    }

    fn arb_payload() -> impl Strategy<Value = Payload> {
        let state = prop_oneof![
            Just(GroupState::Unknown),
            Just(GroupState::Standby),
            Just(GroupState::Acquiring),
            Just(GroupState::Active),
            Just(GroupState::Releasing),
            Just(GroupState::Failed),
            Just(GroupState::Cleaning)
        ];
        let kind = prop_oneof![
            Just(Kind::Heartbeat),
            Just(Kind::Released),
            Just(Kind::Takeover),
            Just(Kind::Leaving),
            Just(Kind::Shared)
        ];
        let phase = prop_oneof![
            Just(Phase::Init),
            Just(Phase::Running),
            Just(Phase::Stopping)
        ];
        (
            kind,
            phase,
            any::<bool>(),
            any::<u32>(),
            any::<u16>(),
            0u8..128,
            any::<u32>(),
            proptest::collection::vec(
                ("[ -~]{1,30}", state).prop_map(|(key, state)| GroupStatus { key, state }),
                0..8,
            ),
            (
                any::<u64>(),
                "[a-z0-9]{1,20}",
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
            ),
        )
            .prop_map(
                |(
                    kind,
                    phase,
                    standby,
                    deadtime_ms,
                    ping_reachable,
                    track_fault,
                    config_digest,
                    groups,
                    s,
                )| {
                    Payload {
                        kind,
                        phase,
                        standby,
                        deadtime_ms,
                        ping_reachable,
                        track_fault,
                        config_digest,
                        groups,
                        shared: (kind == Kind::Shared).then_some(Shared {
                            version: s.0,
                            writer: s.1,
                            data: s.2,
                        }),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(node in "[a-z0-9._-]{1,64}", generation in any::<u64>(), seq in any::<u64>(),
                      ts in any::<u64>(), payload in arb_payload(), sha in any::<bool>()) {
            let k = if sha { keys() } else { AuthKeys::single(2, AuthMethod::Md5(b"k".to_vec())) };
            let m = Message { node, generation, seq, timestamp_ms: ts, nonce: 5, echo: ECHO, auth_index: 2, payload };
            let bytes = emit(&m, &k).unwrap();
            prop_assert_eq!(parse(&bytes, &k).unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &keys());
            let _ = parse(&bytes, &AuthKeys::single(0, AuthMethod::Crc));
            let mut rx = Receiver::new("a", ["b".to_string()], keys(), ECHO);
            let _ = rx.accept(&bytes);
        }

        #[test]
        fn crc_signed_mutations_never_panic(payload in arb_payload(), at in any::<usize>(), byte in any::<u8>()) {
            // With crc anyone can forge a valid trailer: exercise the structural decoder on
            // mutated bodies that pass the check.
            let k = AuthKeys::single(0, AuthMethod::Crc);
            let m = Message { node: "n".into(), generation: 1, seq: 1, timestamp_ms: 0, nonce: 5, echo: ECHO, auth_index: 0, payload };
            let bytes = emit(&m, &k).unwrap();
            let mut body = bytes[..bytes.len() - 4].to_vec();
            let i = at % body.len();
            body[i] = byte;
            let crc = crc32fast::hash(&body);
            body.extend(crc.to_be_bytes());
            let _ = parse(&body, &k);
        }

        #[test]
        fn flipped_bit_is_refused(payload in arb_payload(), at in any::<usize>(), bit in 0u8..8) {
            let k = keys();
            let m = Message { node: "n".into(), generation: 1, seq: 1, timestamp_ms: 0, nonce: 5, echo: ECHO, auth_index: 2, payload };
            let mut bytes = emit(&m, &k).unwrap();
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            prop_assert!(parse(&bytes, &k).is_err());
        }

        #[test]
        fn each_seq_accepted_once(seqs in proptest::collection::vec(1u64..200, 1..50)) {
            let k = AuthKeys::single(0, AuthMethod::Crc);
            let mut rx = Receiver::new("a", ["b".to_string()], k.clone(), ECHO);
            let mut accepted = std::collections::HashSet::new();
            for s in seqs {
                let m = Message { node: "b".into(), generation: 1, seq: s, timestamp_ms: 0, nonce: 5, echo: ECHO, auth_index: 0, payload: payload() };
                let ok = rx.accept(&emit(&m, &k).unwrap()).is_ok();
                if ok {
                    prop_assert!(accepted.insert(s), "seq {} accepted twice", s);
                }
            }
        }
    }
}
