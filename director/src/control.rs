//! The control socket: `director status|standby|takeover|reload|top|real` talk to the running daemon
//! over a Unix socket (`RUN_DIR/director.sock`, mode 0600, root-only: the peer's uid is checked
//! with SO_PEERCRED). One JSON request line, one JSON response line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// File name of the control socket inside the run directory.
pub const SOCKET_NAME: &str = "director.sock";

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "cmd")]
pub enum Request {
    Status,
    /// Give the resources to the peer (Heartbeat's hb_standby).
    Standby,
    /// Take the resources from the peer (Heartbeat's hb_takeover).
    Takeover,
    /// Re-read the configuration; keep the running one if the new one is wrong.
    Reload,
    /// The IPVS table's counters per service and real server (`director top`).
    Traffic,
    /// Change what the operator asks of one real server (`director real ...`).
    Real {
        op: RealOp,
        /// The virtual service as `director status` names it (`tcp:192.0.2.132:80`, `fwm:7`).
        #[serde(rename = "virtual")]
        virtual_name: String,
        /// The real server: `ADDR:PORT`, or `ADDR` when it is the only one at that address.
        real: String,
    },
}

/// What `director real` asks of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "op")]
pub enum RealOp {
    /// Weight 0, out when its connections end or after the timeout (seconds; the daemon's
    /// `[drain] timeout` when not given).
    Drain { timeout_s: Option<u64> },
    /// Out of the table now.
    Disable,
    /// Back to what the file and the checks say.
    Enable,
    /// This weight instead of the file's.
    Weight { weight: u32 },
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "result")]
pub enum Response {
    Ok {
        message: String,
    },
    Status {
        status: Box<crate::status::Status>,
    },
    Traffic {
        traffic: Box<crate::traffic::Traffic>,
    },
    Error {
        message: String,
    },
}

/// Errors of the control socket.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot reach the director daemon at {path}: {source} (is `director run` running?)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon sent a reply that cannot be read: {0}")]
    Reply(String),
}

/// The socket path for a run directory.
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Send one request to the daemon and wait for its answer.
pub async fn request(run_dir: &Path, req: &Request) -> Result<Response, ControlError> {
    let path = socket_path(run_dir);
    let stream = UnixStream::connect(&path)
        .await
        .map_err(|source| ControlError::Connect {
            path: path.clone(),
            source,
        })?;
    let io_err = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(req).map_err(|e| ControlError::Reply(e.to_string()))?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(io_err)?;
    write.shutdown().await.map_err(io_err)?;
    let mut reply = String::new();
    BufReader::new(read)
        .read_line(&mut reply)
        .await
        .map_err(io_err)?;
    serde_json::from_str(reply.trim_end()).map_err(|e| ControlError::Reply(e.to_string()))
}

/// Bind the control socket: the run directory is created (0755), a stale socket replaced,
/// and the socket made 0600.
pub fn bind(run_dir: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(run_dir)?;
    let path = socket_path(run_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The request in one line a client sent (its line ending, if any, ignored), or the words
/// of the error answer. Pure: the whole of what the socket decodes.
pub fn decode_request(line: &str) -> Result<Request, String> {
    serde_json::from_str::<Request>(line.trim_end()).map_err(|e| format!("bad request: {e}"))
}

/// Serve requests until the listener fails. `handle` answers each request; clients that are
/// not root (uid 0) or the daemon's own uid are refused.
pub async fn serve<F, Fut>(listener: UnixListener, handle: F)
where
    F: Fn(Request) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response> + Send,
{
    let own_uid = nix::unistd::geteuid().as_raw();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let allowed = match stream.peer_cred() {
                Ok(cred) => cred.uid() == 0 || cred.uid() == own_uid,
                Err(_) => false,
            };
            let (read, mut write) = stream.into_split();
            let reply = if !allowed {
                Response::Error {
                    message: "permission denied: the control socket is root-only".into(),
                }
            } else {
                let mut line = String::new();
                let mut reader = BufReader::new(read).take(64 * 1024);
                match reader.read_line(&mut line).await {
                    Ok(_) => match decode_request(&line) {
                        Ok(req) => handle(req).await,
                        Err(message) => Response::Error { message },
                    },
                    Err(e) => Response::Error {
                        message: format!("bad request: {e}"),
                    },
                }
            };
            if let Ok(mut text) = serde_json::to_string(&reply) {
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            }
        });
    }
}

use tokio::io::AsyncReadExt as _;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn request_and_reply_over_the_socket() {
        let dir = std::env::temp_dir().join(format!("director-ctl-{}", std::process::id()));
        let listener = bind(&dir).unwrap();
        let mode = std::fs::metadata(socket_path(&dir)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let server = tokio::spawn(serve(listener, |req| async move {
            match req {
                Request::Reload => Response::Ok {
                    message: "reloaded".into(),
                },
                other => Response::Error {
                    message: format!("{other:?} refused"),
                },
            }
        }));
        let r = request(&dir, &Request::Reload).await.unwrap();
        assert_eq!(
            r,
            Response::Ok {
                message: "reloaded".into()
            }
        );
        let r = request(&dir, &Request::Standby).await.unwrap();
        assert!(matches!(r, Response::Error { .. }));
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn any_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            Just(Request::Status),
            Just(Request::Standby),
            Just(Request::Takeover),
            Just(Request::Reload),
            Just(Request::Traffic),
            (
                any::<Option<u64>>(),
                "[a-z0-9.:\\[\\]]{0,20}",
                "[a-z0-9.:]{0,20}"
            )
                .prop_map(|(timeout_s, v, r)| Request::Real {
                    op: RealOp::Drain { timeout_s },
                    virtual_name: v,
                    real: r,
                }),
            any::<u32>().prop_map(|weight| Request::Real {
                op: RealOp::Weight { weight },
                virtual_name: "fwm:7".into(),
                real: "198.51.100.1".into(),
            }),
        ]
    }

    proptest! {
        #[test]
        fn any_line_decodes_or_is_refused_in_words(line in ".{0,200}") {
            if let Err(message) = decode_request(&line) {
                prop_assert!(message.starts_with("bad request: "), "{}", message);
            }
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_request(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn what_a_client_sends_is_decoded(req in any_request(), ending in prop_oneof![Just(""), Just("\n"), Just("\r\n")]) {
            let line = format!("{}{ending}", serde_json::to_string(&req).unwrap());
            prop_assert_eq!(decode_request(&line), Ok(req));
        }

        #[test]
        fn unknown_commands_are_refused(cmd in "[a-z]{1,12}") {
            prop_assume!(!["status", "standby", "takeover", "reload", "traffic", "real"].contains(&cmd.as_str()));
            let line = format!("{{\"cmd\":\"{cmd}\"}}");
            prop_assert!(decode_request(&line).is_err());
        }
    }

    #[tokio::test]
    async fn no_daemon_is_a_clear_error() {
        let dir = std::env::temp_dir().join("director-ctl-none-xyz");
        let e = request(&dir, &Request::Status).await.unwrap_err();
        assert!(e.to_string().contains("is `director run` running?"), "{e}");
    }
}
