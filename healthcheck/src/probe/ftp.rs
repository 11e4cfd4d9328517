//! `service = ftp`: what ldirectord does with Net::FTP.
//!
//! Greeting (2xx); `USER login` (default `anonymous`) and, on 331, `PASS passwd`
//! (default `ldirectord@<hostname>`); `CWD /`; `TYPE I`; `PASV` (`EPSV` for IPv6);
//! `RETR <request>` and download from the address the server named; `QUIT`. Like
//! ldirectord, the answers to USER/PASS/CWD/TYPE are not judged: the real is up when the
//! downloaded content matches `receive`. Without a receive, a completed transfer (226)
//! is enough. At most [`MAX_DOWNLOAD`] bytes are read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::line::{self, printable, read_reply, Lines};
use super::{Negotiate, ProbeError};

/// How much of the file a probe downloads and matches.
pub const MAX_DOWNLOAD: usize = 1024 * 1024;

/// Runs the FTP check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let mut lines = Lines::new(line::connect(addr).await?);
    let (code, text) = read_reply(&mut lines).await?;
    if !(200..300).contains(&code) {
        return Err(ProbeError::Unexpected(format!(
            "ftp greeting: {}",
            printable(&text)
        )));
    }
    let user = params
        .login
        .as_deref()
        .filter(|l| !l.is_empty())
        .unwrap_or("anonymous");
    let (code, _) = command(&mut lines, &format!("USER {user}")).await?;
    if code == 331 {
        let pass = match params.passwd.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => p.to_owned(),
            None => format!("ldirectord@{}", line::hostname()),
        };
        command(&mut lines, &format!("PASS {pass}")).await?;
    }
    command(&mut lines, "CWD /").await?;
    command(&mut lines, "TYPE I").await?;
    let data_addr = if addr.is_ipv4() {
        let (_, text) = command(&mut lines, "PASV").await?;
        parse_pasv(&text)
    } else {
        let (_, text) = command(&mut lines, "EPSV").await?;
        parse_epsv(&text).map(|port| SocketAddr::new(addr.ip(), port))
    }
    .ok_or_else(|| ProbeError::Unexpected("ftp: no passive address".into()))?;

    lines
        .send(format!("RETR {}\r\n", retr_path(params)).as_bytes())
        .await?;
    let mut data = line::connect(data_addr).await?;
    let (code, text) = read_reply(&mut lines).await?;
    if !(100..200).contains(&code) {
        return Err(ProbeError::Unexpected(format!(
            "ftp RETR: {}",
            printable(&text)
        )));
    }
    let content = download(&mut data).await?;
    drop(data);
    let complete = matches!(read_reply(&mut lines).await, Ok((200..=299, _)));
    if command(&mut lines, "QUIT").await.is_err() {
        tracing::debug!("ftp QUIT not answered");
    }
    let matched = match params.receive_pattern() {
        Some(_) => params.receive_matches(&String::from_utf8_lossy(&content)),
        None => complete,
    };
    if matched {
        Ok(())
    } else {
        Err(ProbeError::Unexpected(format!(
            "ftp: downloaded content does not match receive: {}",
            printable(&content)
        )))
    }
}

/// Sends one command and reads its reply.
async fn command<S>(lines: &mut Lines<S>, cmd: &str) -> Result<(u16, Vec<u8>), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    lines.send(format!("{cmd}\r\n").as_bytes()).await?;
    read_reply(lines).await
}

/// Reads the data connection to its end (or [`MAX_DOWNLOAD`] bytes).
async fn download<S: AsyncRead + Unpin>(data: &mut S) -> Result<Vec<u8>, ProbeError> {
    let mut content = Vec::new();
    data.take(MAX_DOWNLOAD as u64)
        .read_to_end(&mut content)
        .await?;
    Ok(content)
}

/// The path for RETR: ldirectord keeps the request's leading `/`.
fn retr_path(params: &Negotiate) -> String {
    format!("/{}", line::request_text(params))
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`: the first `n,n,n,n,n,n` in the text.
pub(crate) fn parse_pasv(text: &[u8]) -> Option<SocketAddr> {
    let text = String::from_utf8_lossy(text);
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if bytes.get(start).is_some_and(u8::is_ascii_digit)
            && (start == 0 || !bytes.get(start - 1).is_some_and(u8::is_ascii_digit))
        {
            if let Some(addr) = six_numbers(text.get(start..)?) {
                return Some(addr);
            }
        }
        start += 1;
    }
    None
}

fn six_numbers(text: &str) -> Option<SocketAddr> {
    let mut nums = [0u8; 6];
    let mut rest = text;
    for (i, slot) in nums.iter_mut().enumerate() {
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        *slot = rest.get(..len)?.parse().ok()?;
        rest = rest.get(len..)?;
        if i < 5 {
            rest = rest.strip_prefix(',')?;
        }
    }
    let [a, b, c, d, p1, p2] = nums;
    let ip = IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    Some(SocketAddr::new(ip, u16::from(p1) * 256 + u16::from(p2)))
}

/// `229 Entering Extended Passive Mode (|||port|)`: the port (any delimiter in 0x21-0x7e).
pub(crate) fn parse_epsv(text: &[u8]) -> Option<u16> {
    let open = text.iter().position(|&b| b == b'(')?;
    let inner = text.get(open + 1..)?;
    let d = *inner.first()?;
    if !(0x21..=0x7e).contains(&d) || inner.get(1) != Some(&d) || inner.get(2) != Some(&d) {
        return None;
    }
    let digits = inner.get(3..)?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits.get(len) != Some(&d) || digits.get(len + 1) != Some(&b')') {
        return None;
    }
    std::str::from_utf8(digits.get(..len)?).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
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
            receive: Some(regex::Regex::new(receive).unwrap()),
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

    #[tokio::test]
    async fn closed_control_connection_is_down() {
        let (addr, _task) = server(Retr::CloseControl).await;
        let res = probe(addr, &params("Welcome")).await;
        assert!(res.is_err(), "{res:?}");
    }

    #[test]
    fn passive_replies() {
        assert_eq!(
            parse_pasv(b"227 Entering Passive Mode (192,0,2,7,4,1)"),
            Some("192.0.2.7:1025".parse().unwrap())
        );
        assert_eq!(
            parse_pasv(b"227 =192,0,2,7,0,21"),
            Some("192.0.2.7:21".parse().unwrap())
        );
        assert_eq!(parse_pasv(b"227 (300,0,2,7,4,1)"), None);
        assert_eq!(parse_pasv(b"227 (1,2,3)"), None);
        assert_eq!(
            parse_epsv(b"229 Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(parse_epsv(b"229 (!!!21!)"), Some(21));
        assert_eq!(parse_epsv(b"229 (||6446|)"), None);
        assert_eq!(parse_epsv(b"229 (|||99999|)"), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_pasv(&bytes);
            let _ = parse_epsv(&bytes);
        }

        #[test]
        fn pasv_roundtrip(ip in any::<[u8; 4]>(), port in any::<u16>()) {
            let text = format!("227 ok ({},{},{},{},{},{})", ip[0], ip[1], ip[2], ip[3], port / 256, port % 256);
            let want = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port);
            prop_assert_eq!(parse_pasv(text.as_bytes()), Some(want));
        }
    }
}
