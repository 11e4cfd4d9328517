//! Scripted loopback servers for the probe tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::line::Lines;

/// One move of a scripted server.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read one line; stop (close) unless it starts with this text.
    Expect(String),
    /// Read one line, whatever it is.
    Read,
    /// Never answer again (the connection stays open).
    Hang,
    /// Close the connection.
    Close,
}

/// `Step::Send` of a text.
pub(crate) fn send(text: &str) -> Step {
    Step::Send(text.as_bytes().to_vec())
}

/// `Step::Expect` of a text.
pub(crate) fn expect(text: &str) -> Step {
    Step::Expect(text.to_owned())
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A running scripted server: its address and the lines it received.
pub(crate) struct Fake {
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Fake {
    /// The lines the server received, once it finished its script (or after a second).
    pub(crate) async fn transcript(self) -> Vec<String> {
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut { self.task }).await;
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// A plain TCP server that plays `steps` with its first client.
pub(crate) async fn tcp(steps: Vec<Step>) -> Fake {
    start(steps, false).await
}

/// A TLS server (test certificate) that plays `steps` after the handshake.
pub(crate) async fn tls(steps: Vec<Step>) -> Fake {
    start(steps, true).await
}

async fn start(steps: Vec<Step>, tls: bool) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let stream: Box<dyn Io> = if tls {
            match super::tls::test_acceptor().accept(tcp).await {
                Ok(s) => Box::new(s),
                Err(_) => return,
            }
        } else {
            Box::new(tcp)
        };
        play(stream, steps, log).await;
    });
    Fake { addr, seen, task }
}

async fn play(stream: Box<dyn Io>, steps: Vec<Step>, log: Arc<Mutex<Vec<String>>>) {
    let mut lines = Lines::new(stream);
    for step in steps {
        match step {
            Step::Send(bytes) => {
                if lines.send(&bytes).await.is_err() {
                    return;
                }
            }
            Step::Expect(want) => {
                let Ok(line) = lines.read_line().await else {
                    return;
                };
                let line = String::from_utf8_lossy(&line).into_owned();
                let ok = line.starts_with(&want);
                if let Ok(mut v) = log.lock() {
                    v.push(line);
                }
                if !ok {
                    return;
                }
            }
            Step::Read => {
                let Ok(line) = lines.read_line().await else {
                    return;
                };
                if let Ok(mut v) = log.lock() {
                    v.push(String::from_utf8_lossy(&line).into_owned());
                }
            }
            Step::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Step::Close => {
                let _ = lines.get_mut().shutdown().await;
                return;
            }
        }
    }
    // Script done: let the client finish and close first.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(Some(line)) = lines.read_line_opt().await {
            if let Ok(mut v) = log.lock() {
                v.push(String::from_utf8_lossy(&line).into_owned());
            }
        }
    })
    .await;
}

/// How long a "hung server" test waits before it calls the probe stuck.
pub(crate) const HANG: Duration = Duration::from_millis(300);

/// Runs `session` against a peer that sends `bytes` and then closes its side (whatever
/// the session writes is read and dropped). `None` if the session did not finish within
/// five seconds, which for a peer that has closed means it hangs.
pub(crate) fn run_on_bytes<F, Fut, T>(bytes: Vec<u8>, session: F) -> Option<T>
where
    F: FnOnce(tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (client, server) = tokio::io::duplex(1 << 17);
        let (mut from_client, mut to_client) = tokio::io::split(server);
        to_client.write_all(&bytes).await.unwrap();
        to_client.shutdown().await.unwrap();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut from_client, &mut tokio::io::sink()).await;
        });
        tokio::time::timeout(Duration::from_secs(5), session(client))
            .await
            .ok()
    })
}
