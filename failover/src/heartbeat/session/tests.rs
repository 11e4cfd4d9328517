//! The session against a scripted Heartbeat peer (`ha01`, preferred owner of the one group
//! unless a test says otherwise): what director sends and does at each step of Heartbeat's
//! negotiation, as seen on the wire in `/work/shared/docs/ref/heartbeat-packets.txt`.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::config::hacf::AutoFailback;
use crate::fsm::{Action, Event, FenceAction, Fsm, FsmConfig, GroupSpec, ReleaseWhy, Role};
use crate::heartbeat::wire::HeartbeatMessage;

const KEY: &str = "IPaddr::192.0.2.100/24/eth0";

fn cfg(preferred: &str, af: AutoFailback) -> FsmConfig {
    FsmConfig {
        local: "ha02".into(),
        peer: Some("ha01".into()),
        groups: vec![GroupSpec {
            key: KEY.into(),
            preferred: preferred.into(),
            resources: vec![KEY.into()],
        }],
        keepalive: Duration::from_secs(1),
        deadtime: Duration::from_secs(3),
        warntime: Duration::from_secs(2),
        initdead: Duration::from_secs(6),
        auto_failback: af,
        ping_nodes: 0,
        stop_retries: 10,
        stop_retry_interval: Duration::from_secs(1),
        fence: FenceAction::Exit,
        failed_hold: Duration::from_secs(60),
        probe_interval: None,
        stonith: false,
        stonith_retry: Duration::from_secs(5),
        config_digest: 7,
        monitor: None,
        links: vec![],
        tracks: vec![],
        failback_hold: Duration::ZERO,
    }
}

/// director's node (`ha02`): its Fsm, its session, and the resources it really runs.
struct Rig {
    fsm: Fsm,
    session: Session,
    now: Instant,
    /// Everything sent to the peer, in order.
    sent: Vec<HeartbeatMessage>,
    /// Whether the group's resources run here.
    running: bool,
    /// Starting the group fails here.
    fail_start: bool,
    /// The peer's generation and last seq.
    peer_gen: u64,
    peer_seq: u64,
}

impl Rig {
    fn new(preferred: &str, af: AutoFailback) -> Rig {
        let fsm = Fsm::new(cfg(preferred, af));
        let id = Identity {
            node: "ha02".into(),
            uuid: [2; 16],
            generation: 0x100,
        };
        let session = Session::new(id, &fsm, vec!["ha01".into(), "ha02".into()], 1, 3);
        let mut rig = Rig {
            fsm,
            session,
            now: Instant::now(),
            sent: Vec::new(),
            running: false,
            fail_start: false,
            peer_gen: 0x6b06_3c24,
            peer_seq: 0,
        };
        rig.step(Event::Start);
        rig
    }

    /// Feeds an event, carries out the actions (resources answer at once).
    fn step(&mut self, ev: Event) {
        let mut queue = vec![ev];
        while let Some(ev) = queue.pop() {
            let actions = self.fsm.step(ev, self.now);
            let (run, msgs) = self.session.outgoing(actions, &self.fsm, self.now, 0);
            self.sent.extend(msgs);
            queue.extend(self.carry_out(run));
        }
    }

    fn carry_out(&mut self, run: Vec<Action>) -> Vec<Event> {
        let mut events = Vec::new();
        for a in run {
            match a {
                Action::Probe(g) => events.push(Event::Probed {
                    group: g,
                    running: self.running,
                }),
                Action::Acquire(g) => {
                    // A failed start stops what it started before it answers.
                    self.running = !self.fail_start;
                    events.push(Event::Acquired {
                        group: g,
                        ok: !self.fail_start,
                    });
                }
                Action::Release(g) => {
                    self.running = false;
                    events.push(Event::Released { group: g, ok: true });
                }
                _ => {}
            }
        }
        events
    }

    /// The peer sends a sequenced message with these fields.
    fn hear(&mut self, fields: &[(&str, &str)]) -> Result<(), Rejection> {
        self.peer_seq += 1;
        let m = self.peer_msg(fields, Some(self.peer_seq));
        self.hear_msg(&m)
    }

    fn peer_msg(&self, fields: &[(&str, &str)], seq: Option<u64>) -> HeartbeatMessage {
        let mut m = HeartbeatMessage::new();
        for (n, v) in fields {
            m = m.with(n, *v);
        }
        m = m.with("src", "ha01").with_bin("srcuuid", &[1; 16]);
        if let Some(s) = seq {
            m = m.with("seq", format!("{s:x}"));
        }
        m.with("hg", format!("{:x}", self.peer_gen))
            .with("ttl", "3")
    }

    fn hear_msg(&mut self, m: &HeartbeatMessage) -> Result<(), Rejection> {
        let out = self.session.receive(m, true, &self.fsm, self.now, 0)?;
        self.sent.extend(out.send);
        let mut events = self.carry_out(out.run);
        events.extend(out.event);
        for ev in events {
            self.step(ev);
        }
        Ok(())
    }

    fn status(&mut self) {
        self.hear(&[
            ("t", "status"),
            ("st", "active"),
            ("dt", "bb8"),
            ("protocol", "1"),
        ])
        .unwrap();
    }

    fn resource(&mut self, hold: &str, stable: &str) {
        self.hear(&[
            ("t", "resource"),
            ("rsc_hold", hold),
            ("rtype", "full"),
            ("isstable", stable),
        ])
        .unwrap();
    }

    /// Types (and rsc_hold / info / isstable when present) of what was sent since the last
    /// call, without status and acks.
    fn said(&mut self) -> Vec<String> {
        self.sent
            .drain(..)
            .filter(|m| !matches!(m.kind(), Some("status" | "NS_ackmsg")))
            .map(|m| {
                let mut w = m.kind().unwrap_or("?").to_string();
                for f in ["rsc_hold", "isstable", "info"] {
                    if let Some(v) = m.get(f) {
                        w.push_str(&format!(" {f}={v}"));
                    }
                }
                w
            })
            .collect()
    }

    /// ha01 never came: after initdead ha02 holds ha01's group.
    fn alone_with_the_group() -> Rig {
        let mut r = Rig::new("ha01", AutoFailback::On);
        r.now += Duration::from_secs(7);
        r.step(Event::Tick);
        assert!(r.running);
        r.said();
        r
    }

    fn role(&self) -> Option<Role> {
        self.fsm.role(0)
    }
}

#[test]
fn joining_a_running_heartbeat_node_that_holds_its_group() {
    let mut r = Rig::new("ha01", AutoFailback::On);
    r.status();
    assert_eq!(
        r.said(),
        ["starting", "resource rsc_hold=none isstable=1"],
        "the first thing heard: we join, holding nothing"
    );
    // Heartbeat answers our `starting` with its holdings.
    r.resource("local", "1");
    assert_eq!(r.role(), Some(Role::Standby));
    assert!(!r.running);
    assert!(r.said().is_empty(), "nothing changed here");
    // Its reqnodes gets our node list.
    r.hear(&[("t", "reqnodes"), ("dest", "ha02")]).unwrap();
    let rep = r
        .sent
        .iter()
        .find(|m| m.kind() == Some("repnodes"))
        .unwrap();
    assert_eq!(rep.get("nodelist"), Some("ha01 ha02 "));
    assert_eq!(rep.get_bin("destuuid"), Some(&[1u8; 16][..]));
}

#[test]
fn a_starting_peer_gets_our_holdings_and_we_wait_for_its_answer() {
    let mut r = Rig::new("ha02", AutoFailback::On);
    r.status();
    // Its status alone says nothing of what it holds: nothing is decided.
    assert!(matches!(r.role(), Some(Role::Init { .. })));
    r.said();
    r.hear(&[("t", "starting")]).unwrap();
    assert_eq!(r.said(), ["resource rsc_hold=none isstable=1"]);
    // It holds nothing and is stable: ours is taken.
    r.resource("none", "1");
    assert_eq!(r.role(), Some(Role::Active));
    assert!(r.running);
    assert_eq!(
        r.said(),
        [
            "resource rsc_hold=local isstable=0",
            "resource rsc_hold=local isstable=1"
        ]
    );
}

#[test]
fn auto_failback_waits_for_the_peers_agreement_before_releasing() {
    // ha02 holds ha01's group (it took it while ha01 was away).
    let mut r = Rig::alone_with_the_group();
    r.status();
    r.resource("none", "1");
    assert_eq!(
        r.role(),
        Some(Role::Releasing {
            why: ReleaseWhy::Handover,
            attempts: 0,
            retry_at: None,
        })
    );
    // The release is held back; Heartbeat is asked first, and still sees us holding it.
    assert!(r.running, "nothing released before the peer agrees");
    let said = r.said();
    assert!(
        said.contains(&"ask_resources rsc_hold=foreign info=me".to_string()),
        "{said:?}"
    );
    assert!(!said.iter().any(|s| s.contains("isstable=0")), "{said:?}");
    r.hear(&[
        ("t", "ask_resources"),
        ("rsc_hold", "foreign"),
        ("info", "other"),
    ])
    .unwrap();
    assert!(!r.running);
    assert_eq!(
        r.said(),
        [
            "resource rsc_hold=none isstable=0 info=standby",
            "ask_resources rsc_hold=foreign info=done"
        ]
    );
    assert_eq!(
        r.session.next_deadline(),
        Some(r.now + STANDBY_DONE),
        "a `done` is waited for, not for ever"
    );
    r.hear(&[
        ("t", "ask_resources"),
        ("rsc_hold", "foreign"),
        ("info", "done"),
    ])
    .unwrap();
    assert_eq!(r.said(), ["resource rsc_hold=none isstable=1"]);
    assert_eq!(r.session.next_deadline(), None);
    r.resource("local", "1");
    assert_eq!(r.role(), Some(Role::Standby));
}

#[test]
fn an_unanswered_standby_request_is_asked_again_and_the_group_kept() {
    let mut r = Rig::alone_with_the_group();
    r.status();
    r.resource("none", "1");
    r.said();
    assert!(r.session.next_deadline().is_some());
    r.now += STANDBY_REPLY;
    let again = r.session.tick(r.now, 0);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].get("info"), Some("me"));
    assert!(r.running);
}

/// Heartbeat takes a group from a live node only through the standby exchange: after a
/// failed start here, director cleans up and asks the peer to take the group (as Heartbeat
/// runs hb_standby after its own failed start), says `done` once released, and leaves the
/// group to it.
#[test]
fn a_failed_start_asks_the_peer_to_take_the_group() {
    let mut r = Rig::new("ha02", AutoFailback::On);
    r.fail_start = true;
    r.status();
    r.resource("none", "1");
    assert!(!r.running);
    assert!(
        matches!(r.role(), Some(Role::Failed { .. })),
        "{:?}",
        r.role()
    );
    let said = r.said();
    assert!(
        said.contains(&"ask_resources rsc_hold=local info=me".to_string()),
        "{said:?}"
    );
    r.hear(&[
        ("t", "ask_resources"),
        ("rsc_hold", "local"),
        ("info", "other"),
    ])
    .unwrap();
    let said = r.said();
    assert_eq!(
        said.last().map(String::as_str),
        Some("ask_resources rsc_hold=local info=done"),
        "{said:?}"
    );
    r.hear(&[
        ("t", "ask_resources"),
        ("rsc_hold", "local"),
        ("info", "done"),
    ])
    .unwrap();
    r.resource("foreign", "1");
    assert!(!r.running);
    assert!(matches!(r.role(), Some(Role::Failed { .. })));
}

#[test]
fn the_peer_going_standby_hands_us_its_group() {
    let mut r = Rig::new("ha01", AutoFailback::On);
    r.status();
    r.resource("local", "1");
    r.said();
    r.hear(&[("t", "ask_resources"), ("rsc_hold", "all"), ("info", "me")])
        .unwrap();
    assert_eq!(r.said(), ["ask_resources rsc_hold=all info=other"]);
    r.hear(&[
        ("t", "resource"),
        ("rsc_hold", "none"),
        ("rtype", "full"),
        ("isstable", "0"),
        ("info", "standby"),
    ])
    .unwrap();
    assert!(!r.running, "not before it says done");
    r.hear(&[
        ("t", "ask_resources"),
        ("rsc_hold", "all"),
        ("info", "done"),
    ])
    .unwrap();
    assert!(r.running);
    assert_eq!(
        r.said(),
        [
            "ask_resources rsc_hold=all info=done",
            "resource rsc_hold=foreign isstable=1"
        ]
    );
    // It stays ours although ha01 is the preferred node (the standby holds).
    r.resource("none", "1");
    assert_eq!(r.role(), Some(Role::Active));
}

#[test]
fn a_peer_shutting_down_is_taken_over_only_after_shutdone() {
    let mut r = Rig::new("ha01", AutoFailback::On);
    r.status();
    r.resource("local", "1");
    r.hear(&[
        ("t", "resource"),
        ("rsc_hold", "none"),
        ("rtype", "full"),
        ("isstable", "0"),
        ("info", "shutdown"),
    ])
    .unwrap();
    assert!(!r.running, "it is still releasing");
    r.hear(&[("t", "shutdone"), ("st", "dead")]).unwrap();
    assert!(r.running);
}

#[test]
fn our_graceful_stop_says_shutdown_then_shutdone() {
    let mut r = Rig::new("ha02", AutoFailback::On);
    r.status();
    r.resource("none", "1");
    assert!(r.running);
    r.said();
    r.step(Event::Stop);
    assert!(!r.running);
    let said = r.said();
    assert_eq!(
        said.first().map(String::as_str),
        Some("resource rsc_hold=none isstable=0 info=shutdown")
    );
    assert_eq!(said.last().map(String::as_str), Some("shutdone"));
}

#[test]
fn replays_old_generations_and_gaps() {
    let mut r = Rig::new("ha01", AutoFailback::On);
    r.status();
    let again = r.peer_msg(
        &[
            ("t", "status"),
            ("st", "active"),
            ("dt", "bb8"),
            ("protocol", "1"),
        ],
        Some(r.peer_seq),
    );
    assert!(matches!(
        r.hear_msg(&again),
        Err(Rejection::Replay { seq: 1, .. })
    ));
    // seq 2 is lost; 3 arrives: 2 is asked for, and taken once when it comes.
    let late = r.peer_msg(&[("t", "status"), ("st", "active")], Some(2));
    r.peer_seq = 2;
    r.sent.clear();
    r.status();
    let ask = r
        .sent
        .iter()
        .find(|m| m.kind() == Some("NS_rexmit"))
        .unwrap();
    assert_eq!(
        (ask.get("firstseq"), ask.get("lastseq")),
        (Some("2"), Some("2"))
    );
    assert_eq!(r.hear_msg(&late), Ok(()));
    assert!(matches!(
        r.hear_msg(&late),
        Err(Rejection::Replay { seq: 2, .. })
    ));
    // A message of an older generation is refused; a newer one is a restart.
    r.peer_gen -= 1;
    assert!(matches!(
        r.hear(&[("t", "shutdone")]),
        Err(Rejection::OldGeneration { .. })
    ));
    r.peer_gen += 2;
    r.peer_seq = 0;
    assert_eq!(r.hear(&[("t", "status"), ("st", "init")]), Ok(()));
    // Not from the peer, or not for us.
    let mut m = r.peer_msg(&[("t", "status")], Some(9));
    m.fields.retain(|f| f.name != "src");
    assert_eq!(r.hear_msg(&m), Err(Rejection::Missing("src")));
    let stranger = r.peer_msg(&[("t", "status")], Some(9)).with("x", "y");
    let stranger = HeartbeatMessage {
        fields: stranger
            .fields
            .into_iter()
            .map(|mut f| {
                if f.name == "src" {
                    f.value = super::super::wire::Value::Str("ha03".into());
                }
                f
            })
            .collect(),
    };
    assert_eq!(
        r.hear_msg(&stranger),
        Err(Rejection::UnknownNode("ha03".into()))
    );
    let self_ack = r.peer_msg(
        &[("t", "NS_ackmsg"), ("dest", "ha01"), ("ackseq", "5")],
        None,
    );
    assert_eq!(
        r.hear_msg(&self_ack),
        Err(Rejection::NotForUs("ha01".into()))
    );
}

#[test]
fn retransmissions_come_from_history_and_acks_follow_the_trigger() {
    let mut r = Rig::new("ha01", AutoFailback::On);
    r.status(); // seq 1
    r.sent.clear();
    r.hear(&[("t", "status")]).unwrap(); // 2
    r.hear(&[("t", "status")]).unwrap(); // 3: the trigger
    let acks: Vec<_> = r
        .sent
        .iter()
        .filter(|m| m.kind() == Some("NS_ackmsg"))
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].get("ackseq"), Some("3"));
    assert_eq!(acks[0].get("seq"), None, "NS_ messages carry no seq");
    r.sent.clear();
    let ask = r.peer_msg(
        &[
            ("t", "NS_rexmit"),
            ("dest", "ha02"),
            ("firstseq", "1"),
            ("lastseq", "2"),
        ],
        None,
    );
    r.hear_msg(&ask).unwrap();
    let seqs: Vec<_> = r.sent.iter().map(|m| m.hex("seq")).collect();
    assert_eq!(seqs, [Some(1), Some(2)]);
}

#[test]
fn the_lab_capture_of_a_status_is_taken_once() {
    // ha02's first status of the capture, as ha01 would receive it.
    let line = include_str!("../wire/captures.txt")
        .lines()
        .find(|l| l.starts_with("status "))
        .unwrap();
    let hex = line.split_whitespace().nth(3).unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let keys = crate::config::authkeys::AuthKeys {
        active: 1,
        keys: std::collections::BTreeMap::from([(
            1,
            crate::config::authkeys::AuthMethod::Sha1(b"TestNetOnlySecret".to_vec()),
        )]),
    };
    let (msg, _) = super::super::wire::parse(&bytes, &keys).unwrap();
    let mut c = cfg("ha01", AutoFailback::On);
    c.local = "ha01".into();
    c.peer = Some("ha02".into());
    let mut fsm = Fsm::new(c);
    let now = Instant::now();
    fsm.step(Event::Start, now);
    let id = Identity {
        node: "ha01".into(),
        uuid: [1; 16],
        generation: 1,
    };
    let mut s = Session::new(id, &fsm, vec!["ha01".into(), "ha02".into()], 1, 0);
    let out = s.receive(&msg, true, &fsm, now, 0).unwrap();
    assert!(
        matches!(out.event, Some(Event::Heard(ref m)) if m.node == "ha02" && m.generation == 0x6b06_3c24)
    );
    assert!(matches!(
        s.receive(&msg, true, &fsm, now, 0),
        Err(Rejection::Replay { seq: 1, .. })
    ));
    assert_eq!(
        s.receive(&msg, false, &fsm, now, 0),
        Err(Rejection::Source {
            node: "ha02".into()
        })
    );
}
