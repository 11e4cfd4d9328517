//! What the operator asked of real servers (`director real ...`), kept in the state
//! directory (`STATE_DIR/operator.json`, mode 0600) so that it outlives a restart; the
//! decisions are `crate::lvs::operator`'s and the cores'. Written whole to a temporary file
//! and renamed, so a crash leaves the old record or the new one, never half of one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control::RealOp;
use crate::lvs::operator::{Admin, Record, Target};

/// The file's name in the state directory.
pub const FILE_NAME: &str = "operator.json";

/// The record and where it is kept.
#[derive(Debug)]
pub struct OperatorStore {
    path: PathBuf,
    node: String,
    record: Record,
}

impl OperatorStore {
    /// Read the record of `state_dir` (none yet: empty). A file that cannot be read is
    /// logged and left as it is until the next change replaces it; the daemon starts
    /// without it.
    pub async fn load(state_dir: &Path, node: &str) -> OperatorStore {
        let path = state_dir.join(FILE_NAME);
        let record = match tokio::fs::read_to_string(&path).await {
            Ok(text) => match Record::parse(&text) {
                Ok(r) => {
                    if !r.is_empty() {
                        tracing::info!(
                            "operator: {} real server(s) drained, disabled or reweighted as {} \
                             says (version {} by {})",
                            r.iter().count(),
                            path.display(),
                            r.version,
                            r.node
                        );
                    }
                    r
                }
                Err(e) => {
                    tracing::error!(
                        "{}: {e}: starting without the operator's drains, disables and weights",
                        path.display()
                    );
                    Record::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(e) => {
                tracing::error!(
                    "{}: {e}: starting without the operator's drains, disables and weights",
                    path.display()
                );
                Record::default()
            }
        };
        OperatorStore {
            path,
            node: node.to_string(),
            record,
        }
    }

    /// The record as it stands.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The record as the failover node shares it with the peer (this node's name as the
    /// writer of an empty record).
    pub fn shared(&self) -> failover::packet::Shared {
        failover::packet::Shared {
            version: self.record.version,
            writer: if self.record.node.is_empty() {
                self.node.clone()
            } else {
                self.record.node.clone()
            },
            data: Some(self.record.emit().into_bytes()),
        }
    }

    /// The operator asks `op` of `target`: recorded and written to the state file. The
    /// answer in words, or why it was not done.
    pub async fn change(
        &mut self,
        target: Target,
        op: RealOp,
        drain_timeout: Duration,
    ) -> Result<String, String> {
        let admin = match op {
            RealOp::Drain { timeout_s } => Some(Admin::Drain {
                timeout_s: timeout_s.unwrap_or(drain_timeout.as_secs()),
            }),
            RealOp::Disable => Some(Admin::Disable),
            RealOp::Enable => None,
            RealOp::Weight { weight } => Some(Admin::Weight { weight }),
        };
        let what = format!("real server {} of {}", target.real, target.virtual_name);
        let mut next = self.record.clone();
        if !next.set(target, admin, &self.node) {
            return Ok(format!("{what}: unchanged"));
        }
        self.write(&next).await?;
        self.record = next;
        let words = match admin {
            Some(Admin::Drain { timeout_s }) => format!(
                "draining: weight 0 now, out of the table when its connections end or after \
                 {timeout_s} s"
            ),
            Some(Admin::Disable) => "disabled: out of the table".to_string(),
            Some(Admin::Weight { weight }) => format!("weight {weight}"),
            None => "enabled: as the file and its check say".to_string(),
        };
        tracing::info!("operator: {what}: {words}");
        Ok(format!("{what}: {words}"))
    }

    /// Take the peer's record when it wins over this one (and keep it in the state file);
    /// true when it did.
    pub async fn merge(&mut self, theirs: &Record) -> bool {
        if !theirs.wins_over(&self.record) {
            return false;
        }
        if let Err(e) = self.write(theirs).await {
            tracing::error!("{e}: the peer's record is used but not kept across a restart");
        }
        self.record = theirs.clone();
        true
    }

    async fn write(&self, record: &Record) -> Result<(), String> {
        let path = self.path.clone();
        let text = record.emit();
        tokio::task::spawn_blocking(move || write_file(&path, &text))
            .await
            .map_err(|e| format!("{}: {e}", self.path.display()))?
            .map_err(|e| {
                format!(
                    "cannot keep the operator's record in {}: {e}",
                    self.path.display()
                )
            })
    }
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[drain] timeout`'s default.
    const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

    fn t(real: &str) -> Target {
        Target {
            virtual_name: "tcp:192.0.2.132:80".into(),
            real: real.into(),
        }
    }

    #[tokio::test]
    async fn changes_are_kept_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = OperatorStore::load(dir.path(), "ha01").await;
        assert!(store.record().is_empty());
        let said = store
            .change(
                t("198.51.100.1:80"),
                RealOp::Drain { timeout_s: None },
                DEFAULT_DRAIN_TIMEOUT,
            )
            .await
            .unwrap();
        assert!(said.contains("after 300 s"), "{said}");
        let said = store
            .change(
                t("198.51.100.1:80"),
                RealOp::Drain {
                    timeout_s: Some(300),
                },
                DEFAULT_DRAIN_TIMEOUT,
            )
            .await
            .unwrap();
        assert!(said.ends_with("unchanged"), "{said}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let again = OperatorStore::load(dir.path(), "ha01").await;
        assert_eq!(again.record(), store.record());
        assert_eq!(
            again.record().get(&t("198.51.100.1:80")),
            Some(Admin::Drain { timeout_s: 300 })
        );
        // a peer's newer record is taken and kept; an older one is not
        let mut theirs = again.record().clone();
        theirs.set(t("198.51.100.2:80"), Some(Admin::Disable), "ha02");
        assert!(store.merge(&theirs).await);
        assert!(!store.merge(&Record::default()).await);
        let again = OperatorStore::load(dir.path(), "ha01").await;
        assert_eq!(again.record(), &theirs);
    }

    #[tokio::test]
    async fn a_broken_state_file_starts_empty_and_is_replaced_at_the_next_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{not json").unwrap();
        let mut store = OperatorStore::load(dir.path(), "ha01").await;
        assert!(store.record().is_empty());
        store
            .change(t("198.51.100.1:80"), RealOp::Disable, DEFAULT_DRAIN_TIMEOUT)
            .await
            .unwrap();
        let again = OperatorStore::load(dir.path(), "ha01").await;
        assert_eq!(
            again.record().get(&t("198.51.100.1:80")),
            Some(Admin::Disable)
        );
    }
}
