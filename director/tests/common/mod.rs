//! Helpers shared by the integration tests that run an ldirectord file in-process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use healthcheck::probe::ProbeError;
use healthcheck::runner::{ProbeFuture, Prober};
use healthcheck::spec::{Attempt, CheckSpec};

/// What a scripted real that is down answers.
pub const DOWN_REASON: &str = "HTTP/1.0 500 Internal Server Error";

/// Real servers answer as told (default: up); a down one fails with [`DOWN_REASON`].
#[derive(Default)]
pub struct Scripted {
    down: Mutex<HashMap<SocketAddr, bool>>,
}

impl Scripted {
    pub fn set(&self, real: &str, up: bool) {
        let addr: SocketAddr = real.parse().unwrap();
        self.down.lock().unwrap().insert(addr, !up);
    }
}

impl Prober for Scripted {
    fn probe(&self, spec: Arc<CheckSpec>, _attempt: Attempt) -> ProbeFuture {
        let down = self
            .down
            .lock()
            .unwrap()
            .get(&spec.real)
            .copied()
            .unwrap_or(false);
        Box::pin(async move {
            if down {
                Err(ProbeError::Unexpected(DOWN_REASON.into()))
            } else {
                Ok(())
            }
        })
    }
}
