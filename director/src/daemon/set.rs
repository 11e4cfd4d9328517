//! Every ldirectord file the daemon runs ([`LvsSet`]): started together, reloaded together,
//! their status followed by the metrics and the control socket.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::lvs::{self, Kernel, Lvs, LvsOptions, LvsStatus, ReloadCause};
use super::options::DaemonError;

/// Every running file.
pub struct LvsSet {
    pub(super) all: Vec<Lvs>,
    /// The files' status receivers, followed by the metrics and the control socket's
    /// traffic answers (a file started or stopped by a reload shows there at once).
    live: watch::Sender<Vec<watch::Receiver<LvsStatus>>>,
}

impl LvsSet {
    pub(super) fn new(all: Vec<Lvs>) -> LvsSet {
        let live = watch::Sender::new(all.iter().map(Lvs::watch).collect());
        LvsSet { all, live }
    }

    pub(super) fn watches(&self) -> Vec<watch::Receiver<LvsStatus>> {
        self.all.iter().map(Lvs::watch).collect()
    }

    /// The status receivers of the files running now, kept up to date.
    pub(super) fn live_watches(&self) -> watch::Receiver<Vec<watch::Receiver<LvsStatus>>> {
        self.live.subscribe()
    }

    /// A file started at a reload.
    pub(super) fn add(&mut self, l: Lvs) {
        self.all.push(l);
        self.live.send_replace(self.watches());
    }

    /// A file no longer run, taken out of the set (the caller stops it).
    pub(super) fn remove(&mut self, path: &std::path::Path) -> Option<Lvs> {
        let i = self.all.iter().position(|l| l.path() == path)?;
        let l = self.all.remove(i);
        self.live.send_replace(self.watches());
        Some(l)
    }

    /// Reload every file; the errors of those refused.
    pub async fn reload(&self, cause: ReloadCause) -> Result<(), String> {
        let mut errors = Vec::new();
        for l in &self.all {
            if let Err(e) = l.reload(cause).await {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    /// What the operator asks of real servers from now on, in every file.
    pub async fn operator(&self, record: &lvs::Record) {
        for l in &self.all {
            l.operator(record.clone()).await;
        }
    }

    /// `director.conf`'s `[drain]` from now on, in every file (a reload).
    pub(super) async fn drain_on_removal(&self, drain: Option<std::time::Duration>) {
        for l in &self.all {
            l.drain_on_removal(drain).await;
        }
    }

    /// The files running now.
    pub(super) fn paths(&self) -> Vec<PathBuf> {
        self.all.iter().map(|l| l.path().to_path_buf()).collect()
    }

    /// What the operator asks now, to the files that are not in `before`: a file a reload
    /// started was given the record the daemon started with.
    pub(super) async fn operator_to_new(&self, before: &[PathBuf], record: &lvs::Record) {
        for l in self
            .all
            .iter()
            .filter(|l| !before.iter().any(|p| p == l.path()))
        {
            l.operator(record.clone()).await;
        }
    }

    /// Each file's health-check progress, by file name.
    pub fn progress(&self) -> Vec<(String, lvs::Progress)> {
        self.all
            .iter()
            .map(|l| (l.path().display().to_string(), *l.progress().borrow()))
            .collect()
    }

    pub fn statuses(&self) -> Vec<LvsStatus> {
        self.all.iter().map(Lvs::status).collect()
    }

    /// Stop every file (cleanstop as configured).
    pub async fn stop(self) {
        for l in self.all {
            l.stop().await;
        }
    }
}

/// Start every file; a file with errors stops the ones started and gives its diagnostics.
/// `log_cfgname`: the first file's `logfile=` is followed at reloads, with that name.
pub async fn start_all(
    files: &[PathBuf],
    kernel: &Kernel,
    options: LvsOptions,
    log_cfgname: Option<String>,
) -> Result<LvsSet, DaemonError> {
    let mut all = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let mut options = options.clone();
        // The first file's logfile= is the process's (start and reload).
        options.log_cfgname = if i == 0 { log_cfgname.clone() } else { None };
        match Lvs::start(f, Arc::clone(kernel), options).await {
            Ok(l) => all.push(l),
            Err(diags) => {
                LvsSet::new(all).stop().await;
                return Err(DaemonError::Config(diags.to_string()));
            }
        }
    }
    Ok(LvsSet::new(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::memory::MemoryIpvs;
    use crate::lvs::operator::{Admin, Record, Target};

    const WWW: &str = "virtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate\n\tchecktype=on\n";
    const MAIL: &str = "virtual=192.0.2.133:25\n\treal=198.51.100.2:25 gate\n\tchecktype=on\n";

    fn operator_words(set: &LvsSet, virtual_name: &str) -> Option<String> {
        set.statuses()
            .iter()
            .flat_map(|s| s.virtuals.iter())
            .find(|v| v.name == virtual_name)?
            .reals
            .first()?
            .operator
            .clone()
    }

    #[tokio::test]
    async fn a_file_a_reload_starts_takes_the_operators_record_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let (www, mail) = (dir.path().join("www.cf"), dir.path().join("mail.cf"));
        std::fs::write(&www, WWW).unwrap();
        std::fs::write(&mail, MAIL).unwrap();
        let kernel = lvs::kernel(MemoryIpvs::new());
        let options = LvsOptions::new(Arc::new(healthcheck::runner::standard()));
        let mut set = start_all(std::slice::from_ref(&www), &kernel, options.clone(), None)
            .await
            .unwrap();
        // Since the start, the operator disabled the real server of the file to come.
        let mut record = Record::default();
        record.set(
            Target {
                virtual_name: "tcp:192.0.2.133:25".into(),
                real: "198.51.100.2:25".into(),
            },
            Some(Admin::Disable),
            "ha01",
        );
        set.operator(&record).await;
        let before = set.paths();
        // A reload starts mail.cf with the options of the start (the record of then).
        set.add(
            Lvs::start(&mail, Arc::clone(&kernel), options)
                .await
                .unwrap(),
        );
        set.operator_to_new(&before, &record).await;
        let mut words = None;
        for _ in 0..100 {
            words = operator_words(&set, "tcp:192.0.2.133:25");
            if words.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(words.as_deref(), Some("disabled"));
        set.stop().await;
    }
}
