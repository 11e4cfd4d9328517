//! Appends ldirectord's `monitorfile=` lines (formatted by `lvs::monitor`) off the daemon's
//! loop, opening and closing the file for each batch as ldirectord opens and closes it for
//! each line (so logrotate works).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Appends `(file, line)` pairs in order, off the caller's loop. Dropping every sender ends
/// the task once the lines already sent are written.
pub fn writer() -> (mpsc::UnboundedSender<(PathBuf, String)>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(PathBuf, String)>();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            // Everything queued goes in one batch, grouped by file, order kept per file.
            let mut batch: BTreeMap<PathBuf, String> = BTreeMap::new();
            let mut add = |(path, line): (PathBuf, String)| {
                batch.entry(path).or_default().push_str(&line);
            };
            add(first);
            while let Ok(next) = rx.try_recv() {
                add(next);
            }
            let written = tokio::task::spawn_blocking(move || {
                batch
                    .into_iter()
                    .filter_map(|(path, text)| append(&path, &text).err().map(|e| (path, e)))
                    .collect::<Vec<_>>()
            });
            match tokio::time::timeout(Duration::from_secs(30), written).await {
                Ok(Ok(errors)) => {
                    for (path, e) in errors {
                        tracing::error!("Error writing to monitorfile '{}': {e}", path.display());
                    }
                }
                Ok(Err(e)) => tracing::error!("writing to a monitorfile failed: {e}"),
                Err(_) => tracing::error!("writing to a monitorfile took more than 30 s"),
            }
        }
    });
    (tx, task)
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_appends_in_order_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        std::fs::write(&a, "old\n").unwrap();
        let (tx, task) = writer();
        for i in 0..50 {
            tx.send((a.clone(), format!("{i}\n"))).unwrap();
        }
        tx.send((dir.path().join("missing/b.log"), "x\n".into()))
            .unwrap();
        drop(tx);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(&a).unwrap();
        let want: String = std::iter::once("old\n".to_string())
            .chain((0..50).map(|i| format!("{i}\n")))
            .collect();
        assert_eq!(text, want);
    }
}
