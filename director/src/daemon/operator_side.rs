//! The operator's record in the control loop: `director real ...` requests, the record taken
//! from the peer, what `director status` says of it.

use tokio::sync::watch;

use super::lvs;
use super::operator;
use super::set::LvsSet;
use crate::control;

/// Who else holds the operator's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OperatorPeer {
    /// A single director: nobody.
    Single,
    /// A Heartbeat 3.0.6 peer: it cannot.
    Heartbeat,
    /// A director peer: both nodes hold it.
    Director,
}

/// The operator's record in the control loop: the store, who else holds it, and the
/// peer's record each time the failover node takes it.
pub(super) struct OperatorSide<'a> {
    pub(super) store: &'a mut operator::OperatorStore,
    /// `director.conf` `[drain] timeout`: a drain's when the request gives none.
    pub(super) drain_timeout: std::time::Duration,
    pub(super) peer: OperatorPeer,
    pub(super) from_peer: Option<watch::Receiver<Option<failover::packet::Shared>>>,
}

impl OperatorSide<'_> {
    /// `director status`'s operator part.
    pub(super) fn status(
        &self,
        node: Option<&failover::node::NodeStatus>,
    ) -> crate::status::OperatorStatus {
        let r = self.store.record();
        let peer = match self.peer {
            OperatorPeer::Single => None,
            OperatorPeer::Heartbeat => {
                Some("not shared: the peer runs Heartbeat (director.conf [peer] protocol)".into())
            }
            OperatorPeer::Director => Some(match node.and_then(|n| n.shared_peer.as_ref()) {
                Some((v, w)) if *v == r.version && (*w == r.node || r.version == 0) => {
                    "same version".to_string()
                }
                Some((v, w)) => format!("peer shows version {v} by {w}"),
                None if r.version == 0 => "nothing to share yet".to_string(),
                None => "not heard yet".to_string(),
            }),
        };
        crate::status::OperatorStatus {
            version: r.version,
            node: r.node.clone(),
            reals: r.iter().count(),
            peer,
        }
    }
}

/// The next record the failover node took from the peer (never, without a peer to share
/// with); `None` when one could not be read.
pub(super) async fn peer_record(
    from_peer: Option<&mut watch::Receiver<Option<failover::packet::Shared>>>,
) -> Option<lvs::Record> {
    let rx = match from_peer {
        Some(rx) => rx,
        None => return std::future::pending().await,
    };
    if rx.changed().await.is_err() {
        return std::future::pending().await;
    }
    let shared = rx.borrow_and_update().clone()?;
    let text = String::from_utf8_lossy(shared.data.as_deref().unwrap_or_default()).into_owned();
    match lvs::Record::parse(&text) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!("the peer's operator record cannot be read: {e}");
            None
        }
    }
}

/// `director real ...`: find the real server among the running ones, record what is asked
/// (state file), and have every file's table follow it.
pub(super) async fn real_request(
    set: &LvsSet,
    operator: &mut operator::OperatorStore,
    op: control::RealOp,
    virtual_name: &str,
    real: &str,
    drain_timeout: std::time::Duration,
) -> Result<String, String> {
    if let control::RealOp::Drain { timeout_s: Some(0) } = op {
        return Err("a drain timeout of 0 s is a disable: use `director real disable`".into());
    }
    let virtuals: Vec<crate::status::VirtualStatus> = set
        .statuses()
        .into_iter()
        .flat_map(|s| s.virtuals)
        .collect();
    let target = crate::lvs::operator::resolve(&virtuals, virtual_name, real)?;
    let message = operator.change(target, op, drain_timeout).await?;
    set.operator(operator.record()).await;
    Ok(message)
}
