//! `service = ftp`: what ldirectord does with Net::FTP, on the `suppaftp` client.
//!
//! Greeting (220); `USER login` (default `anonymous`) and, on 331, `PASS passwd`
//! (default `ldirectord@<hostname>`); `CWD /`; `TYPE I`; `PASV` (`EPSV` for IPv6);
//! `RETR <request>` and download from the address the server named; `QUIT`. Like
//! ldirectord, the answers to USER/PASS/CWD/TYPE are not judged: the real is up when the
//! downloaded content matches `receive`. Without a receive, a completed transfer (226)
//! is enough. A file larger than [`MAX_DOWNLOAD`] fails the check. suppaftp takes only a bare
//! socket, so its control connection goes through a loopback `relay` that passes on at most
//! 1 MiB of the server's replies (the shared cap; suppaftp itself refuses one reply over
//! 256 KiB).

use std::net::SocketAddr;

use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::FileType;
use suppaftp::{FtpError, Mode};
use tokio::io::AsyncReadExt;

use super::cap::TooLarge;
use super::line::{self, printable};
use super::relay::{NoGuard, Relay};
use super::{Negotiate, ProbeError};

/// The largest file a probe downloads; a larger one fails the check.
pub const MAX_DOWNLOAD: usize = 1024 * 1024;
/// suppaftp's bound on one reply of the control connection (its `MAX_REPLY_SIZE`).
const MAX_REPLY: usize = 256 * 1024;

/// Runs the FTP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    // suppaftp takes nothing but a bare socket: its control connection goes through a relay
    // that holds the server's side to the shared cap.
    let relay = Relay::open(line::connect(addr).await?).await?;
    let local = relay.addr()?;
    relay.run(NoGuard, session(addr, local, params)).await
}

/// The FTP conversation with the real server `real`, its control connection through `relay`.
async fn session(
    real: SocketAddr,
    relay: SocketAddr,
    params: &Negotiate,
) -> Result<(), ProbeError> {
    let tcp = line::connect_uncapped(relay).await?;
    let mut ftp = AsyncFtpStream::connect_with_stream(tcp)
        .await
        .map_err(|e| error("greeting", e))?;
    if real.is_ipv6() {
        ftp.set_mode(Mode::ExtendedPassive);
    }
    // EPSV names only a port, which suppaftp pairs with the control connection's peer: the
    // relay. The data connection goes to the real server (PASV's address is used as given).
    let epsv = real.is_ipv6();
    let mut ftp = ftp.passive_stream_builder(move |named: SocketAddr| {
        let to = if epsv {
            SocketAddr::new(real.ip(), named.port())
        } else {
            named
        };
        Box::pin(async move {
            tokio::net::TcpStream::connect(to)
                .await
                .map_err(FtpError::ConnectionError)
        })
    });
    let user = params
        .login
        .as_deref()
        .filter(|l| !l.is_empty())
        .unwrap_or("anonymous");
    let pass = match params.passwd.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => p.to_owned(),
        None => format!("ldirectord@{}", line::hostname()),
    };
    // ldirectord does not look at these answers (a refused login shows in RETR); only an
    // answer too large to read ends the check.
    unjudged(ftp.login(user, &pass).await)?;
    unjudged(ftp.cwd("/").await)?;
    unjudged(ftp.transfer_type(FileType::Binary).await)?;

    // ldirectord keeps the request's leading `/`.
    let path = format!("/{}", line::request_text(params));
    let mut download = ftp
        .retr_as_stream(&path)
        .await
        .map_err(|e| error("RETR", e))?;
    // One byte more than the bound tells a file that fits from one that does not.
    let mut content = Vec::new();
    (&mut download)
        .take(MAX_DOWNLOAD as u64 + 1)
        .read_to_end(&mut content)
        .await?;
    if content.len() > MAX_DOWNLOAD {
        return Err(TooLarge {
            limit: MAX_DOWNLOAD as u64,
        }
        .into());
    }
    let complete = download.finish().await.is_ok();
    if ftp.quit().await.is_err() {
        tracing::debug!("ftp QUIT not answered");
    }
    judge(&content, complete, params)
}

/// The verdict on a download: `receive` must match its content; without a receive the
/// transfer must have completed (226).
pub(crate) fn judge(content: &[u8], complete: bool, params: &Negotiate) -> Result<(), ProbeError> {
    let matched = match params.receive_pattern() {
        Some(_) => params.receive_matches(&String::from_utf8_lossy(content)),
        None => complete,
    };
    if matched {
        Ok(())
    } else if params.receive_pattern().is_none() {
        Err(ProbeError::Unexpected(
            "ftp: the transfer did not complete".into(),
        ))
    } else {
        Err(ProbeError::Unexpected(format!(
            "ftp: downloaded content does not match receive: {}",
            printable(content)
        )))
    }
}

/// The answer to a command whose outcome does not matter: only [`TooLarge`] is an error.
fn unjudged(res: Result<(), FtpError>) -> Result<(), ProbeError> {
    match res.map_err(|e| error("", e)) {
        Err(ProbeError::TooLarge(too_large)) => Err(ProbeError::TooLarge(too_large)),
        _ => Ok(()),
    }
}

/// suppaftp's error in the probe's words.
fn error(step: &str, e: FtpError) -> ProbeError {
    use std::io::ErrorKind;
    match e {
        // suppaftp's own bound on one control-connection reply.
        FtpError::ConnectionError(e)
            if e.get_ref()
                .is_some_and(|inner| inner.is::<suppaftp::ReplyTooLarge>()) =>
        {
            ProbeError::TooLarge(TooLarge {
                limit: MAX_REPLY as u64,
            })
        }
        FtpError::ConnectionError(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ) =>
        {
            ProbeError::Closed
        }
        FtpError::ConnectionError(e) => ProbeError::from(e),
        FtpError::UnexpectedResponse(r) => ProbeError::Unexpected(format!(
            "ftp {step}: {} {}",
            r.status.code(),
            printable(&r.body)
        )),
        other => ProbeError::Unexpected(format!("ftp {step}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::line::Lines;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// What the fake FTP server does once RETR arrives.
    #[derive(Clone, Copy)]
    enum Retr {
        Serve(&'static str),
        Refuse,
        HangData,
        CloseControl,
    }

    /// A fake FTP server with a passive data port. Returns its address and a task that
    /// yields the control lines it received.
    async fn server(retr: Retr) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        server_on("127.0.0.1:0", retr).await
    }

    async fn server_on(
        bind: &'static str,
        retr: Retr,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let control = TcpListener::bind(bind).await.unwrap();
        let addr = control.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let data = TcpListener::bind(bind).await.unwrap();
            let port = data.local_addr().unwrap().port();
            let (tcp, _) = control.accept().await.unwrap();
            let mut lines = Lines::new(tcp);
            lines.send(b"220-welcome\r\n220 ready\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.read_line_opt().await {
                let line = String::from_utf8_lossy(&line).into_owned();
                seen.push(line.clone());
                let verb = line.split(' ').next().unwrap_or("").to_owned();
                let answer = match verb.as_str() {
                    "USER" => "331 password please\r\n".to_owned(),
                    "PASS" => "230 in\r\n".to_owned(),
                    "CWD" => "250 ok\r\n".to_owned(),
                    "TYPE" => "200 binary\r\n".to_owned(),
                    "PASV" => format!(
                        "227 Entering Passive Mode (127,0,0,1,{},{})\r\n",
                        port / 256,
                        port % 256
                    ),
                    "EPSV" => format!("229 Entering Extended Passive Mode (|||{port}|)\r\n"),
                    "QUIT" => "221 bye\r\n".to_owned(),
                    "RETR" => match retr {
                        Retr::Refuse => "550 no such file\r\n".to_owned(),
                        Retr::CloseControl => return seen,
                        Retr::Serve(body) => {
                            let (mut d, _) = data.accept().await.unwrap();
                            lines.send(b"150 here it comes\r\n").await.unwrap();
                            d.write_all(body.as_bytes()).await.unwrap();
                            drop(d);
                            "226 done\r\n".to_owned()
                        }
                        Retr::HangData => {
                            let (_d, _) = data.accept().await.unwrap();
                            lines.send(b"150 here it comes\r\n").await.unwrap();
                            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                            String::new()
                        }
                    },
                    _ => "500 what\r\n".to_owned(),
                };
                lines.send(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        (addr, task)
    }

    fn params(receive: &str) -> Negotiate {
        Negotiate {
            request: Some("/welcome.msg".into()),
            receive: Some(crate::probe::Receive::compile(receive).unwrap()),
            ..Negotiate::default()
        }
    }

    #[tokio::test]
    async fn matching_download_is_up() {
        let (addr, task) = server(Retr::Serve("Welcome to the FTP site\n")).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        assert_eq!(seen.first().map(String::as_str), Some("USER anonymous"));
        assert!(
            seen.get(1)
                .is_some_and(|p| p.starts_with("PASS ldirectord@")),
            "{seen:?}"
        );
        assert_eq!(
            seen.get(2..).unwrap(),
            ["CWD /", "TYPE I", "PASV", "RETR /welcome.msg", "QUIT"]
        );
    }

    #[tokio::test]
    async fn ipv6_uses_epsv() {
        let (addr, task) = server_on("[::1]:0", Retr::Serve("Welcome over IPv6\n")).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        assert!(seen.iter().any(|l| l == "EPSV"), "{seen:?}");
    }

    #[tokio::test]
    async fn login_is_used_when_set() {
        let (addr, task) = server(Retr::Serve("x")).await;
        let p = Negotiate {
            login: Some("bob".into()),
            passwd: Some("pw".into()),
            request: Some("f".into()),
            ..Negotiate::default()
        };
        let res = probe(addr, &p).await;
        assert!(res.is_ok(), "{res:?}");
        let seen = task.await.unwrap();
        assert_eq!(seen.get(..2).unwrap(), ["USER bob", "PASS pw"]);
        assert_eq!(seen.get(5).map(String::as_str), Some("RETR /f"));
    }

    #[tokio::test]
    async fn without_receive_a_completed_transfer_is_up() {
        let (addr, _task) = server(Retr::Serve("anything")).await;
        let p = Negotiate {
            request: Some("/f".into()),
            ..Negotiate::default()
        };
        let res = probe(addr, &p).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn other_content_is_down() {
        let (addr, _task) = server(Retr::Serve("Go away\n")).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn missing_file_is_down() {
        let (addr, _task) = server(Retr::Refuse).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn hung_transfer_does_not_finish() {
        let (addr, _task) = server(Retr::HangData).await;
        let res =
            tokio::time::timeout(crate::probe::fake::HANG, probe(addr, &params("Welcome"))).await;
        assert!(res.is_err());
    }

    proptest::proptest! {
        /// Any content: no panic; without a receive only completion counts; content holding
        /// the receive text is up whether the transfer completed or not.
        #[test]
        fn judge_takes_any_download(
            content in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            complete in proptest::prelude::any::<bool>(),
            word in "[a-zA-Z0-9]{1,12}",
            at in 0usize..512,
        ) {
            let none = Negotiate::default();
            proptest::prop_assert_eq!(judge(&content, complete, &none).is_ok(), complete);
            let with = params(&word);
            let _ = judge(&content, complete, &with);
            let mut holding = content.clone();
            let at = at.min(holding.len());
            holding.splice(at..at, word.bytes());
            proptest::prop_assert!(judge(&holding, complete, &with).is_ok());
        }
    }

    #[tokio::test]
    async fn closed_control_connection_is_down() {
        let (addr, _task) = server(Retr::CloseControl).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(res.is_err(), "{res:?}");
    }
}
