//! The signals a daemon answers, as one stream shared by `director run` and `ldirectord
//! start`: SIGHUP reloads, SIGTERM / SIGINT / SIGQUIT stop (named in the last log line, as
//! ldirectord names them).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    /// SIGHUP: read the files again.
    Reload,
    /// SIGTERM, SIGINT or SIGQUIT: stop; the signal's name (`TERM`, `INT`, `QUIT`).
    Stop(&'static str),
}

/// The daemon's signal handlers.
pub struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
    quit: Signal,
}

impl Signals {
    /// Installs the handlers (inside the tokio runtime).
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Sig {
        tokio::select! {
            _ = self.hup.recv() => Sig::Reload,
            _ = self.term.recv() => Sig::Stop("TERM"),
            _ = self.int.recv() => Sig::Stop("INT"),
            _ = self.quit.recv() => Sig::Stop("QUIT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SIGHUP sent to this process comes out as a reload (the test binary's own handler
    /// stays installed: tokio keeps it for the process).
    #[tokio::test]
    async fn sighup_is_a_reload() {
        let mut s = Signals::new().unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGHUP).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), s.next())
            .await
            .unwrap();
        assert_eq!(got, Sig::Reload);
    }
}
