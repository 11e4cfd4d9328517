//! BIRD's control socket, the I/O part: one command per connection, bounded in time, and the
//! static-route file published (written, then BIRD reconfigured).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

use super::bird::{Reply, ReplyError, ReplyReader};

/// What went wrong talking to BIRD.
#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    #[error("cannot reach BIRD on {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("BIRD on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("BIRD on {path} did not answer within {}ms", timeout.as_millis())]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("BIRD on {path} closed the connection before its reply ended")]
    Closed { path: PathBuf },
    #[error("BIRD on {path}: {source}")]
    Reply { path: PathBuf, source: ReplyError },
    #[error("BIRD refused \"{command}\": {summary}")]
    Refused { command: String, summary: String },
    #[error("a BIRD command is one line: {0:?}")]
    BadCommand(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A BIRD control socket (`/run/bird/bird.ctl` for Debian's bird2).
#[derive(Debug, Clone)]
pub struct BirdCtl {
    pub path: PathBuf,
    /// The longest one command may take, connection and reply included.
    pub timeout: Duration,
}

impl BirdCtl {
    /// Sends `command` on a connection of its own and returns BIRD's reply; an error reply
    /// (8xxx, 9xxx) is [`BirdError::Refused`].
    pub async fn command(&self, command: &str) -> Result<Reply, BirdError> {
        if command.contains(['\n', '\r']) {
            return Err(BirdError::BadCommand(command.to_string()));
        }
        let work = async {
            let stream =
                UnixStream::connect(&self.path)
                    .await
                    .map_err(|source| BirdError::Connect {
                        path: self.path.clone(),
                        source,
                    })?;
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut reader = ReplyReader::default();
            // The welcome (0001 BIRD x.y ready.) first.
            self.reply(&mut lines, &mut reader).await?;
            write
                .write_all(format!("{command}\n").as_bytes())
                .await
                .map_err(|source| BirdError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            self.reply(&mut lines, &mut reader).await
        };
        let reply = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| BirdError::Timeout {
                path: self.path.clone(),
                timeout: self.timeout,
            })??;
        if reply.is_error() {
            return Err(BirdError::Refused {
                command: command.to_string(),
                summary: reply.summary(),
            });
        }
        Ok(reply)
    }

    async fn reply(
        &self,
        lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
        reader: &mut ReplyReader,
    ) -> Result<Reply, BirdError> {
        loop {
            let line = lines
                .next_line()
                .await
                .map_err(|source| BirdError::Io {
                    path: self.path.clone(),
                    source,
                })?
                .ok_or_else(|| BirdError::Closed {
                    path: self.path.clone(),
                })?;
            match reader.line(&line) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(source) => {
                    return Err(BirdError::Reply {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
    }
}

/// Writes `text` to `file` (a new file renamed over the old one, so BIRD never reads half of
/// it) and asks BIRD to read its configuration again (`configure`). A file BIRD refuses leaves
/// BIRD on its previous configuration; the error names BIRD's `file:line`.
pub async fn publish(file: &Path, text: &str, ctl: &BirdCtl) -> Result<Reply, BirdError> {
    let tmp = file.with_extension("director-new");
    let write = |source| BirdError::Write {
        path: file.to_path_buf(),
        source,
    };
    tokio::fs::write(&tmp, text).await.map_err(write)?;
    tokio::fs::rename(&tmp, file).await.map_err(write)?;
    ctl.command("configure").await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake BIRD: the welcome, then `answer` to whatever comes.
    fn fake(dir: &Path, answer: &'static str) -> PathBuf {
        let path = dir.join("bird.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"0001 BIRD 2.0.12 ready.\n").await;
                if let Ok(Some(_cmd)) = lines.next_line().await {
                    let _ = w.write_all(answer.as_bytes()).await;
                }
            }
        });
        path
    }

    fn ctl(path: PathBuf) -> BirdCtl {
        BirdCtl {
            path,
            timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn a_reconfiguration_is_read_and_an_error_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ok = ctl(fake(
            dir.path(),
            "0002-Reading configuration from bird.conf\n0003 Reconfigured\n",
        ));
        assert_eq!(ok.command("configure").await.unwrap().code, 3);
        let file = dir.path().join("vips.conf");
        publish(&file, "# x\n", &ok).await.unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# x\n");

        let dir2 = tempfile::tempdir().unwrap();
        let bad = ctl(fake(dir2.path(), "0002-Reading configuration from bird.conf\n8002 vips.conf:9:1 syntax error, unexpected ROUTE\n"));
        let e = bad.command("configure").await.unwrap_err().to_string();
        assert_eq!(
            e,
            "BIRD refused \"configure\": 8002 vips.conf:9:1 syntax error, unexpected ROUTE"
        );
        assert!(matches!(
            bad.command("a\nb").await,
            Err(BirdError::BadCommand(_))
        ));
    }

    #[tokio::test]
    async fn no_bird_a_silent_bird_and_a_closed_connection_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let none = ctl(dir.path().join("none.ctl"));
        assert!(matches!(
            none.command("show protocols").await,
            Err(BirdError::Connect { .. })
        ));

        let path = dir.path().join("silent.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let silent = BirdCtl {
            path,
            timeout: Duration::from_millis(200),
        };
        assert!(matches!(
            silent.command("configure").await,
            Err(BirdError::Timeout { .. })
        ));

        let dir3 = tempfile::tempdir().unwrap();
        let closing = ctl(fake(dir3.path(), "0002-Reading configuration\n"));
        assert!(matches!(
            closing.command("configure").await,
            Err(BirdError::Closed { .. })
        ));
    }
}
