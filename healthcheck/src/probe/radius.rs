//! `service = radius`: what Authen::Radius `check_pwd` does for ldirectord.
//!
//! One Access-Request over UDP with User-Name (`login`), User-Password (`passwd`,
//! hidden with `secret` as RFC 2865 §5.2 says) and NAS-IP-Address (the local address of
//! the socket, 127.0.0.1 for IPv6). The real is up on an Access-Accept whose Response
//! Authenticator (and Message-Authenticator, if present) proves it knows the secret; an
//! answer that fails those checks is down at once, as with the library.
//! Unlike the library: the request also carries a Message-Authenticator (RFC 3579),
//! which servers hardened against BlastRADIUS require; an empty password is padded to
//! one 16-byte block (RFC 2865); datagrams with another identifier are skipped.
//!
//! Kept hand-written: the RADIUS crates (radius 0.4, last released in early 2024;
//! radius-rust, on async-std) are little used and not kept up; one Access-Request and the
//! check of its answer are built here on the md-5 and hmac crates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use tokio::net::UdpSocket;

use super::{Negotiate, ProbeError};

const ACCESS_REQUEST: u8 = 1;
const ACCESS_ACCEPT: u8 = 2;
const ACCESS_REJECT: u8 = 3;
const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IP_ADDRESS: u8 = 4;
const MESSAGE_AUTHENTICATOR: u8 = 80;
/// How many stray datagrams (wrong id, bad authenticator) a probe skips.
const MAX_STRAY: usize = 16;

/// Runs the RADIUS check against `addr`.
pub async fn probe(addr: SocketAddr, params: &Negotiate) -> Result<(), ProbeError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket
        .connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })?;
    let nas = match socket.local_addr()?.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => ip,
        _ => Ipv4Addr::LOCALHOST,
    };
    let request = Request {
        id: rand::random(),
        authenticator: rand::random(),
        user: params.login.as_deref().unwrap_or(""),
        password: params.passwd.as_deref().unwrap_or(""),
        nas,
    };
    let secret = params.secret.as_deref().unwrap_or("").as_bytes();
    socket.send(&request.emit(secret)?).await?;
    let mut buf = vec![0u8; 4096];
    let mut last = RadiusError::Short;
    for _ in 0..MAX_STRAY {
        let n = socket.recv(&mut buf).await?;
        match parse_response(buf.get(..n).unwrap_or_default(), &request, secret) {
            Ok(ACCESS_ACCEPT) => return Ok(()),
            Ok(ACCESS_REJECT) => {
                return Err(ProbeError::Unexpected("radius: Access-Reject".into()))
            }
            Ok(code) => {
                return Err(ProbeError::Unexpected(format!(
                    "radius: answer code {code}"
                )))
            }
            Err(RadiusError::OtherId) => last = RadiusError::OtherId,
            Err(e) => return Err(ProbeError::Unexpected(format!("radius: {e}"))),
        }
    }
    Err(ProbeError::Unexpected(format!("radius: {last}")))
}

/// An Access-Request.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    pub(crate) id: u8,
    pub(crate) authenticator: [u8; 16],
    pub(crate) user: &'a str,
    pub(crate) password: &'a str,
    pub(crate) nas: Ipv4Addr,
}

impl Request<'_> {
    /// The request datagram.
    pub(crate) fn emit(&self, secret: &[u8]) -> Result<Vec<u8>, ProbeError> {
        let too_long = |what: &str| ProbeError::Unexpected(format!("radius: {what} too long"));
        let mut attrs = Vec::new();
        push_attr(&mut attrs, USER_NAME, self.user.as_bytes()).ok_or_else(|| too_long("login"))?;
        let hidden = hide_password(self.password.as_bytes(), secret, &self.authenticator);
        push_attr(&mut attrs, USER_PASSWORD, &hidden).ok_or_else(|| too_long("passwd"))?;
        push_attr(&mut attrs, NAS_IP_ADDRESS, &self.nas.octets()).ok_or_else(|| too_long("nas"))?;
        push_attr(&mut attrs, MESSAGE_AUTHENTICATOR, &[0; 16])
            .ok_or_else(|| too_long("request"))?;
        let len = u16::try_from(20 + attrs.len()).map_err(|_| too_long("request"))?;
        let mut out = vec![ACCESS_REQUEST, self.id];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.authenticator);
        out.extend_from_slice(&attrs);
        // RFC 3579 §3.2: HMAC-MD5 over the whole request with the attribute zeroed.
        let mut mac = Hmac::<Md5>::new_from_slice(secret)
            .map_err(|_| ProbeError::Unexpected("radius: bad secret".into()))?;
        mac.update(&out);
        let sig = mac.finalize().into_bytes();
        let at = out.len() - 16;
        if let Some(slot) = out.get_mut(at..) {
            slot.copy_from_slice(&sig);
        }
        Ok(out)
    }
}

fn push_attr(out: &mut Vec<u8>, kind: u8, value: &[u8]) -> Option<()> {
    let len = u8::try_from(value.len() + 2).ok()?;
    out.push(kind);
    out.push(len);
    out.extend_from_slice(value);
    Some(())
}

/// RFC 2865 §5.2: pad to 16-byte blocks, XOR each with MD5(secret + previous block).
pub(crate) fn hide_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let mut padded = password.to_vec();
    let blocks = padded.len().div_ceil(16).max(1);
    padded.resize(blocks * 16, 0);
    let mut out: Vec<u8> = Vec::with_capacity(padded.len());
    let mut prev: Vec<u8> = authenticator.to_vec();
    for block in padded.chunks(16) {
        let key = Md5::new()
            .chain_update(secret)
            .chain_update(&prev)
            .finalize();
        let cipher: Vec<u8> = block.iter().zip(key.iter()).map(|(p, k)| p ^ k).collect();
        out.extend_from_slice(&cipher);
        prev = cipher;
    }
    out
}

/// Why a datagram is not a valid answer to our request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RadiusError {
    #[error("answer too short")]
    Short,
    #[error("answer to another request")]
    OtherId,
    #[error("bad length field")]
    BadLength,
    #[error("response authenticator does not match (wrong secret?)")]
    BadAuthenticator,
    #[error("message-authenticator does not match (wrong secret?)")]
    BadMessageAuthenticator,
    #[error("malformed attributes")]
    BadAttributes,
}

/// Checks an answer to `request` and returns its code.
pub(crate) fn parse_response(
    data: &[u8],
    request: &Request<'_>,
    secret: &[u8],
) -> Result<u8, RadiusError> {
    let header = data.get(..20).ok_or(RadiusError::Short)?;
    let &[code, id, l0, l1, ..] = header else {
        return Err(RadiusError::Short);
    };
    if id != request.id {
        return Err(RadiusError::OtherId);
    }
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < 20 {
        return Err(RadiusError::BadLength);
    }
    let packet = data.get(..len).ok_or(RadiusError::BadLength)?;
    let (auth, attrs) = (
        packet.get(4..20).ok_or(RadiusError::Short)?,
        packet.get(20..).unwrap_or_default(),
    );
    let expected = Md5::new()
        .chain_update(packet.get(..4).unwrap_or_default())
        .chain_update(request.authenticator)
        .chain_update(attrs)
        .chain_update(secret)
        .finalize();
    if expected.as_slice() != auth {
        return Err(RadiusError::BadAuthenticator);
    }
    if let Some(offset) = find_attr(attrs, MESSAGE_AUTHENTICATOR)? {
        // HMAC-MD5 over the packet with the request authenticator and a zeroed attribute.
        let mut copy = packet.to_vec();
        let start = 20 + offset + 2;
        let value = copy
            .get_mut(start..start + 16)
            .ok_or(RadiusError::BadAttributes)?;
        let got = value.to_vec();
        value.fill(0);
        if let Some(a) = copy.get_mut(4..20) {
            a.copy_from_slice(&request.authenticator);
        }
        let mut mac = Hmac::<Md5>::new_from_slice(secret)
            .map_err(|_| RadiusError::BadMessageAuthenticator)?;
        mac.update(&copy);
        if mac.verify_slice(&got).is_err() {
            return Err(RadiusError::BadMessageAuthenticator);
        }
    }
    Ok(code)
}

/// The offset of the first attribute of `kind` (its 16-byte value checked), if any.
fn find_attr(attrs: &[u8], kind: u8) -> Result<Option<usize>, RadiusError> {
    let mut at = 0;
    while at < attrs.len() {
        let t = *attrs.get(at).ok_or(RadiusError::BadAttributes)?;
        let len = usize::from(*attrs.get(at + 1).ok_or(RadiusError::BadAttributes)?);
        if len < 2 || at + len > attrs.len() {
            return Err(RadiusError::BadAttributes);
        }
        if t == kind {
            return if len == 18 {
                Ok(Some(at))
            } else {
                Err(RadiusError::BadAttributes)
            };
        }
        at += len;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::HANG;
    use proptest::prelude::*;

    const SECRET: &str = "testing123";

    fn params(pass: &str) -> Negotiate {
        Negotiate {
            login: Some("alice".into()),
            passwd: Some(pass.into()),
            secret: Some(SECRET.into()),
            ..Negotiate::default()
        }
    }

    /// Builds an answer to `req` signed with `secret`, optionally with a Message-Authenticator.
    fn answer(req: &[u8], code: u8, secret: &[u8], msg_auth: bool, id_delta: u8) -> Vec<u8> {
        let mut attrs = Vec::new();
        push_attr(&mut attrs, 18, b"Hello").unwrap();
        if msg_auth {
            push_attr(&mut attrs, MESSAGE_AUTHENTICATOR, &[0u8; 16]).unwrap();
        }
        let len = (20 + attrs.len()) as u16;
        let mut pkt = vec![code, req[1].wrapping_add(id_delta)];
        pkt.extend_from_slice(&len.to_be_bytes());
        pkt.extend_from_slice(&req[4..20]);
        pkt.extend_from_slice(&attrs);
        if msg_auth {
            let mut mac = Hmac::<Md5>::new_from_slice(secret).unwrap();
            mac.update(&pkt);
            let sig = mac.finalize().into_bytes();
            let n = pkt.len();
            pkt[n - 16..].copy_from_slice(&sig);
        }
        let resp_auth = Md5::new()
            .chain_update(&pkt[..4])
            .chain_update(&req[4..20])
            .chain_update(&pkt[20..])
            .chain_update(secret)
            .finalize();
        pkt[4..20].copy_from_slice(&resp_auth);
        pkt
    }

    /// A RADIUS server: checks the password with the secret, answers accept or reject.
    async fn server(mode: &'static str) -> (SocketAddr, tokio::task::JoinHandle<Option<String>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            let req = buf[..n].to_vec();
            // Recover the password: attribute 2 after User-Name.
            let user_len = req[21] as usize;
            let pw_at = 20 + user_len;
            assert_eq!(req[pw_at], USER_PASSWORD);
            let hidden = &req[pw_at + 2..pw_at + req[pw_at + 1] as usize];
            let auth: [u8; 16] = req[4..20].try_into().unwrap();
            let padded = hide_password(hidden, SECRET.as_bytes(), &auth);
            // XOR is its own inverse only for the first block; passwords here are short.
            let password = String::from_utf8_lossy(&padded[..16])
                .trim_end_matches('\0')
                .to_owned();
            let reply = match mode {
                "check" => Some(answer(
                    &req,
                    if password == "right" {
                        ACCESS_ACCEPT
                    } else {
                        ACCESS_REJECT
                    },
                    SECRET.as_bytes(),
                    true,
                    0,
                )),
                "wrong-secret" => Some(answer(&req, ACCESS_ACCEPT, b"other", false, 0)),
                "stray-then-accept" => {
                    socket
                        .send_to(
                            &answer(&req, ACCESS_ACCEPT, SECRET.as_bytes(), false, 1),
                            peer,
                        )
                        .await
                        .unwrap();
                    Some(answer(&req, ACCESS_ACCEPT, SECRET.as_bytes(), false, 0))
                }
                _ => None,
            };
            match reply {
                Some(r) => {
                    socket.send_to(&r, peer).await.unwrap();
                }
                None => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
            }
            Some(password)
        });
        (addr, task)
    }

    #[tokio::test]
    async fn accept_is_up() {
        let (addr, task) = server("check").await;
        let res = probe(addr, &params("right")).await;
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(task.await.unwrap().as_deref(), Some("right"));
    }

    #[tokio::test]
    async fn reject_is_down() {
        let (addr, _task) = server("check").await;
        let res = probe(addr, &params("wrong")).await;
        assert!(matches!(res, Err(ProbeError::Unexpected(_))), "{res:?}");
    }

    #[tokio::test]
    async fn accept_signed_with_another_secret_is_down() {
        let (addr, _task) = server("wrong-secret").await;
        let res = probe(addr, &params("right")).await;
        assert!(
            matches!(&res, Err(ProbeError::Unexpected(m)) if m.contains("authenticator")),
            "{res:?}"
        );
    }

    #[test]
    fn request_carries_a_valid_message_authenticator() {
        let req = Request {
            id: 1,
            authenticator: [5; 16],
            user: "u",
            password: "p",
            nas: Ipv4Addr::LOCALHOST,
        };
        let wire = req.emit(b"k").unwrap();
        let at = wire.len() - 16;
        assert_eq!(&wire[at - 2..at], &[MESSAGE_AUTHENTICATOR, 18]);
        let mut zeroed = wire.clone();
        zeroed[at..].fill(0);
        let mut mac = Hmac::<Md5>::new_from_slice(b"k").unwrap();
        mac.update(&zeroed);
        assert!(mac.verify_slice(&wire[at..]).is_ok());
    }

    #[tokio::test]
    async fn stray_answer_is_skipped() {
        let (addr, _task) = server("stray-then-accept").await;
        let res = probe(addr, &params("right")).await;
        assert!(res.is_ok(), "{res:?}");
    }

    #[tokio::test]
    async fn silent_server_does_not_finish() {
        let (addr, _task) = server("hang").await;
        let res = tokio::time::timeout(HANG, probe(addr, &params("right"))).await;
        assert!(res.is_err());
    }

    #[tokio::test]
    async fn closed_port_is_down() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        drop(socket);
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            probe(addr, &params("right")),
        )
        .await;
        assert!(matches!(res, Ok(Err(ProbeError::Io(_)))), "{res:?}");
    }

    #[test]
    fn rfc2865_password_hiding_is_reversible() {
        let auth = [7u8; 16];
        let hidden = hide_password(b"0123456789abcdefXYZ", b"s3cret", &auth);
        assert_eq!(hidden.len(), 32);
        // Decrypt block by block.
        let k1 = Md5::new()
            .chain_update(b"s3cret")
            .chain_update(auth)
            .finalize();
        let p1: Vec<u8> = hidden[..16]
            .iter()
            .zip(k1.iter())
            .map(|(c, k)| c ^ k)
            .collect();
        assert_eq!(&p1, b"0123456789abcdef");
        let k2 = Md5::new()
            .chain_update(b"s3cret")
            .chain_update(&hidden[..16])
            .finalize();
        let p2: Vec<u8> = hidden[16..]
            .iter()
            .zip(k2.iter())
            .map(|(c, k)| c ^ k)
            .collect();
        assert_eq!(&p2[..3], b"XYZ");
        assert!(p2[3..].iter().all(|&b| b == 0));
        assert_eq!(hide_password(b"", b"s", &auth).len(), 16);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), id in any::<u8>()) {
            let req = Request { id, authenticator: [1; 16], user: "u", password: "p", nas: Ipv4Addr::LOCALHOST };
            let _ = parse_response(&bytes, &req, b"secret");
        }

        #[test]
        fn signed_answers_parse(code in any::<u8>(), msg_auth in any::<bool>()) {
            let req = Request { id: 9, authenticator: [3; 16], user: "u", password: "p", nas: Ipv4Addr::LOCALHOST };
            let wire = req.emit(b"k").unwrap();
            let ans = answer(&wire, code, b"k", msg_auth, 0);
            prop_assert_eq!(parse_response(&ans, &req, b"k"), Ok(code));
            prop_assert!(parse_response(&ans, &req, b"other").is_err());
        }
    }
}
