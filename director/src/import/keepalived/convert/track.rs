//! The parts of a vrrp_instance that go to director.conf rather than to Heartbeat's files:
//! track_script (with its vrrp_script) and track_interface -> `[track]`, notify_* ->
//! `[[notify]]`, preempt_delay -> `[failback] hold`.

use std::collections::BTreeMap;

use crate::import::keepalived::render::sh_word;

use super::super::model::{NotifyTable, Track, TrackKind};
use super::super::parse::{Loc, Stmt};
use super::ctx::Ctx;
use super::vrrp::{iface_name, Instance};

/// One entry of track_script (`script`) or track_interface.
pub(super) struct TrackRef {
    loc: Loc,
    script: bool,
    name: String,
    /// `weight W` on the entry (overrides the vrrp_script's).
    weight: Option<i64>,
}

/// `notify_master` / `notify_backup` / `notify_fault` / `notify_stop` / `notify` of an
/// instance (`kind` INSTANCE) or a sync group (GROUP) into `n`, a `[[notify]]` table.
pub(super) fn notify(cx: &mut Ctx<'_>, c: &Stmt, context: &str, kind: &str, n: &mut NotifyTable) {
    let words: Vec<String> = match c.args() {
        [cmd] => cmd.split_whitespace().map(str::to_string).collect(),
        [cmd, ..] => {
            cx.not_carried(
                c.loc,
                format!(
                    "the user and group of {} in {context}: director runs it as root",
                    c.key()
                ),
            );
            cmd.split_whitespace().map(str::to_string).collect()
        }
        [] => Vec::new(),
    };
    if words.is_empty() {
        cx.error(c.loc, format!("{} needs a script", c.key()));
        return;
    }
    // keepalived splits the words itself and runs them without a shell: quoted for sh.
    let command = Some(
        words
            .iter()
            .map(|w| sh_word(w))
            .collect::<Vec<_>>()
            .join(" "),
    );
    match c.key() {
        "notify_master" => n.master = command,
        "notify_backup" => n.backup = command,
        "notify_fault" => n.fault = command,
        "notify_stop" => n.stop = command,
        _ => {
            n.command = command;
            if kind == "GROUP" {
                cx.not_carried(
                    c.loc,
                    format!(
                        "notify in {context} gets INSTANCE, not GROUP, as its first argument \
                         (director notifies each group as an instance)"
                    ),
                );
            }
            cx.note(
                c.loc,
                format!(
                    "notify in {context}: its last argument, the priority, is 0 (a pair has \
                     no priorities)"
                ),
            );
        }
    }
}

/// The entries of a track_script / track_interface block: `NAME [weight W]`.
pub(super) fn track_refs(cx: &mut Ctx<'_>, c: &Stmt, context: &str, out: &mut Vec<TrackRef>) {
    let script = c.key() == "track_script";
    for t in c.children() {
        let weight = match t.args() {
            [] => None,
            [w, v] if w == "weight" => match v.parse::<i64>() {
                Ok(n) if (-254..=254).contains(&n) => Some(n),
                _ => {
                    cx.error(t.loc, format!("{}: invalid weight {v}", t.key()));
                    continue;
                }
            },
            _ => {
                cx.unsupported(
                    t,
                    &format!("{context} {}", c.key()),
                    "options other than weight",
                );
                continue;
            }
        };
        if !script && !iface_name(t.key()) {
            cx.error(
                t.loc,
                format!("track_interface: invalid interface name {:?}", t.key()),
            );
            continue;
        }
        out.push(TrackRef {
            loc: t.loc,
            script,
            name: t.key().to_string(),
            weight,
        });
    }
}

/// Every instance's track_script and track_interface -> director.conf's `[track]`: one
/// set for the node, since director's tracks move every group.
pub(super) fn tracks(cx: &mut Ctx<'_>, instances: &[Instance], scripts: &[&Stmt]) -> Vec<Track> {
    let mut defs: BTreeMap<String, &Stmt> = BTreeMap::new();
    for d in scripts {
        match d.args() {
            [name] => {
                defs.insert(name.clone(), d);
            }
            _ => cx.error(d.loc, "vrrp_script takes one name"),
        }
    }
    let mut out: Vec<Track> = Vec::new();
    let mut weights: Vec<Option<i64>> = Vec::new();
    for i in instances {
        for r in &i.tracks {
            let kind = if r.script {
                "track_script"
            } else {
                "track_interface"
            };
            let same =
                |t: &Track| t.name == r.name && matches!(t.kind, TrackKind::Interface) != r.script;
            if let Some(k) = out.iter().position(same) {
                if weights.get(k).copied().flatten() != r.weight && r.weight.is_some() {
                    cx.not_carried(
                        r.loc,
                        format!(
                            "the weight of {kind} {} in vrrp_instance {}: director tracks it once \
                             for the node, with the weight first given",
                            r.name, i.name
                        ),
                    );
                }
                continue;
            }
            let track = if r.script {
                let Some(def) = defs.get(&r.name) else {
                    cx.note(
                        r.loc,
                        format!(
                            "track_script {} in vrrp_instance {}: there is no vrrp_script {} \
                             (keepalived ignores it too)",
                            r.name, i.name, r.name
                        ),
                    );
                    continue;
                };
                match script(cx, def, &r.name, r.weight) {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                Track {
                    name: r.name.clone(),
                    kind: TrackKind::Interface,
                    interval_ms: None,
                    fall: None,
                    rise: None,
                    weight: weight(cx, r.loc, &format!("track_interface {}", r.name), r.weight),
                    origin: format!("{}:{}", cx.file(r.loc), r.loc.line),
                }
            };
            out.push(track);
            weights.push(r.weight);
        }
    }
    if instances.len() > 1 {
        for i in instances {
            let missing: Vec<&str> = out
                .iter()
                .filter(|t| {
                    !i.tracks.iter().any(|r| {
                        r.name == t.name && r.script == matches!(t.kind, TrackKind::Script { .. })
                    })
                })
                .map(|t| t.name.as_str())
                .collect();
            if !missing.is_empty() {
                cx.not_carried(
                    i.loc,
                    format!(
                        "vrrp_instance {} does not track {}: director's tracks are the node's, \
                         so their failure moves this group too",
                        i.name,
                        missing.join(", ")
                    ),
                );
            }
        }
    }
    for (name, d) in &defs {
        let used = out
            .iter()
            .any(|t| t.name == *name && matches!(t.kind, TrackKind::Script { .. }));
        if !used {
            cx.note(
                d.loc,
                format!(
                    "vrrp_script {name} is tracked by no vrrp_instance (keepalived ignores it too)"
                ),
            );
        }
    }
    out
}

/// keepalived's weight -> director's (1..=127): none or 0 is keepalived's FAULT, the most a
/// track can weigh; otherwise its size (a pair has no priority to raise or lower).
fn weight(cx: &mut Ctx<'_>, loc: Loc, what: &str, w: Option<i64>) -> u8 {
    let max = i64::from(failover::config::settings::MAX_WEIGHT);
    let (out, why) = match w {
        None | Some(0) => (
            max,
            "no weight (keepalived's FAULT): the most a track can weigh".to_string(),
        ),
        Some(w) => (w.abs().min(max), format!("weight {w}: its size")),
    };
    cx.note(
        loc,
        format!(
            "{what}: weight {out} in director.conf, from {why} (a pair has no priorities: the \
             node whose failing tracks weigh less holds the groups)"
        ),
    );
    u8::try_from(out).unwrap_or(1)
}

/// A vrrp_script block -> a `[track.script.NAME]`.
fn script(cx: &mut Ctx<'_>, def: &Stmt, name: &str, weight_ref: Option<i64>) -> Option<Track> {
    let context = format!("vrrp_script {name}");
    let mut command = None;
    let (mut interval_ms, mut timeout_ms, mut fall, mut rise, mut w) =
        (None, None, None, None, None);
    let ms = |cx: &mut Ctx<'_>, c: &Stmt| -> Option<u64> {
        let secs = cx.seconds(c)?;
        let ms = (secs * 1000.0).round() as u64;
        if (10..=3_600_000).contains(&ms) {
            Some(ms)
        } else {
            cx.error(
                c.loc,
                format!("{}: {secs} s is out of range (0.01 to 3600)", c.key()),
            );
            None
        }
    };
    for c in def.children() {
        match c.key() {
            "script" => {
                let text = c.args().join(" ");
                if text.trim().is_empty() {
                    cx.error(c.loc, "script needs a command");
                } else if text.contains("/dev/tcp/") || text.contains("/dev/udp/") {
                    // bash's redirections, which keepalived 1.x ran through a bash /bin/sh;
                    // director's /bin/sh may be dash: bash runs it.
                    cx.note(
                        c.loc,
                        format!("script of {context} uses bash's /dev/tcp: run with bash -c"),
                    );
                    command = Some(format!("bash -c {}", sh_word(&text)));
                } else {
                    command = Some(text);
                }
            }
            "interval" => interval_ms = ms(cx, c),
            "timeout" => timeout_ms = ms(cx, c),
            "weight" => match c.args().first().map(|v| v.parse::<i64>()) {
                Some(Ok(n)) if (-254..=254).contains(&n) => {
                    w = Some(n);
                    if c.args().len() > 1 {
                        cx.unsupported(
                            c,
                            &context,
                            "reverse: a failing track always counts against the node",
                        );
                    }
                }
                _ => cx.error(c.loc, "weight: invalid number"),
            },
            "rise" | "fall" => {
                if let Some(n) = cx.number::<u32>(c) {
                    if (1..=255).contains(&n) {
                        if c.key() == "rise" {
                            rise = Some(n);
                        } else {
                            fall = Some(n);
                        }
                    } else {
                        cx.error(c.loc, format!("{} {n} is not in 1..255", c.key()));
                    }
                }
            }
            "user" => cx.not_carried(
                c.loc,
                format!("user of {context}: director runs track scripts as root"),
            ),
            "init_fail" => cx.note(
                c.loc,
                format!(
                    "init_fail in {context}: director's first result decides before the node \
                     joins, so a failing script never takes a group"
                ),
            ),
            _ => cx.unsupported(c, &context, ""),
        }
    }
    let Some(command) = command else {
        cx.not_carried(
            def.loc,
            format!("{context} has no script for this node: it is not tracked"),
        );
        return None;
    };
    let w = weight(
        cx,
        def.loc,
        &format!("track_script {name}"),
        weight_ref.or(w),
    );
    Some(Track {
        name: name.to_string(),
        kind: TrackKind::Script {
            command,
            timeout_ms: timeout_ms.or(interval_ms).unwrap_or(1000),
        },
        interval_ms,
        fall,
        rise,
        weight: w,
        origin: format!("{}:{}", cx.file(def.loc), def.loc.line),
    })
}

/// preempt_delay -> director.conf's `[failback] hold` (one for every group: the longest).
pub(super) fn failback_hold(
    cx: &mut Ctx<'_>,
    instances: &[Instance],
    auto_failback: bool,
) -> Option<(u64, String)> {
    let delays: Vec<(&Instance, Loc, f64)> = instances
        .iter()
        .filter_map(|i| i.preempt_delay.map(|(l, d)| (i, l, d)))
        .collect();
    if !auto_failback {
        for (i, loc, _) in &delays {
            cx.note(
                *loc,
                format!(
                    "preempt_delay in vrrp_instance {}: nothing to delay with nopreempt \
                     (auto_failback off)",
                    i.name
                ),
            );
        }
        return None;
    }
    let longest = delays.iter().map(|(_, _, d)| *d).fold(0.0, f64::max);
    let (_, loc, _) = delays.iter().find(|(_, _, d)| *d == longest)?;
    for (i, l, d) in &delays {
        if *d != longest {
            cx.not_carried(
                *l,
                format!(
                    "preempt_delay {d} of vrrp_instance {}: director.conf has one failback hold \
                     for every group, the longest: {longest} s",
                    i.name
                ),
            );
        }
    }
    let ms = ((longest * 1000.0).round() as u64).min(3_600_000);
    (ms > 0).then(|| (ms, format!("{}:{}", cx.file(*loc), loc.line)))
}
