//! Heartbeat's messages on the wire (cluster-glue `cl_msg.c`, `cl_netstring.c`), as
//! Heartbeat 3.0.6 with cluster-glue 1.0.12 sends them:
//!
//! ```text
//! "###\n" { LEN ":" "(" TYPE ")" NAME "=" VALUE "," } "%%%\n" LEN ":" N " " HEX ","
//! ```
//!
//! LEN is the decimal length of what follows up to the comma; TYPE is 0 (string) or 1 (binary:
//! the 16-byte UUIDs); other types (nested, lists, compressed) are kept as bytes. The trailer
//! is the MAC of authkeys index N over the bytes from `###\n` to `%%%\n` inclusive, and is
//! what receivers check. An `auth=N HEX` field (the MAC of the classic text of the other
//! fields) is sent too, last, as `msgfmt classic` does.
//!
//! The classic framing (`">>>\n" name=value lines "<<<\n"`, non-strings as `(T)name=base64`,
//! authenticated by the `auth=` field) is accepted too; Heartbeat still accepts it.
//!
//! Pure: [`parse`] / [`emit`] take the keys; no I/O, no clock.

use base64::Engine as _;

use super::auth;
use crate::config::authkeys::{AuthKeys, AuthMethod};

/// Largest message Heartbeat sends or takes (`MAXMSG`).
pub const MAX_MSG: usize = 256 * 1024;

const NS_START: &[u8] = b"###\n";
const NS_END: &[u8] = b"%%%\n";
const CLASSIC_START: &[u8] = b">>>\n";
const CLASSIC_END: &[u8] = b"<<<\n";
/// The field that carries the classic-text MAC.
const AUTH: &str = "auth";

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Type 0.
    Str(String),
    /// Type 1 (UUIDs).
    Bin(Vec<u8>),
    /// Any other type, or a type-0 value that is not UTF-8: kept as the bytes on the wire.
    Other { kind: u8, bytes: Vec<u8> },
}

/// One `name=value` field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub value: Value,
}

/// A Heartbeat message: its fields in order (without the `auth` field, which [`emit`] adds
/// and [`parse`] checks or drops).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HeartbeatMessage {
    pub fields: Vec<Field>,
}

/// A packet that is not a valid, authentic Heartbeat message. The message names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a Heartbeat message (neither ### nor >>> framing)")]
    NotHeartbeat,
    #[error("message too long ({0} bytes)")]
    TooLong(usize),
    #[error("field {index}: {what}")]
    Field { index: usize, what: String },
    #[error("trailer: {0}")]
    Trailer(String),
    #[error("no authentication: Heartbeat refuses unsigned messages")]
    Unsigned,
    #[error("key index {0} is not in authkeys")]
    UnknownKey(u8),
    #[error("authentication failed (key index {0})")]
    BadAuth(u8),
}

/// A message could not be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("field name [{0}] is empty or holds '=', ',' or a newline")]
    Name(String),
    #[error("message too long ({0} bytes)")]
    TooLong(usize),
}

impl HeartbeatMessage {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a string field.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.push(name, Value::Str(value.into()));
        self
    }

    /// Appends a binary field.
    pub fn with_bin(mut self, name: &str, value: &[u8]) -> Self {
        self.push(name, Value::Bin(value.to_vec()));
        self
    }

    /// Appends a field.
    pub fn push(&mut self, name: &str, value: Value) {
        self.fields.push(Field {
            name: name.to_string(),
            value,
        });
    }

    /// The first string field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find_map(|f| match &f.value {
            Value::Str(s) if f.name == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// The first binary field called `name`.
    pub fn get_bin(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find_map(|f| match &f.value {
            Value::Bin(b) if f.name == name => Some(b.as_slice()),
            _ => None,
        })
    }

    /// A string field read as hex (`seq`, `hg`, `ts`, `dt`, `ackseq`).
    pub fn hex(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| u64::from_str_radix(v, 16).ok())
    }

    /// A string field read as decimal (`ttl`, `protocol`, rexmit's `firstseq`/`lastseq`).
    pub fn decimal(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// The message type (`t`).
    pub fn kind(&self) -> Option<&str> {
        self.get("t")
    }
}

/// The classic text of the fields other than `auth` (what the `auth=` MAC covers).
fn classic_text(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields.iter().filter(|f| f.name != AUTH) {
        match &f.value {
            Value::Str(s) => {
                out.extend_from_slice(f.name.as_bytes());
                out.push(b'=');
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bin(b) => {
                out.extend_from_slice(format!("(1){}=", f.name).as_bytes());
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(b)
                        .as_bytes(),
                );
            }
            Value::Other { kind, bytes } => {
                out.extend_from_slice(format!("({kind}){}=", f.name).as_bytes());
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD
                        .encode(bytes)
                        .as_bytes(),
                );
            }
        }
        out.push(b'\n');
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', ',', '\n', '(', ')'])
}

fn put_field(out: &mut Vec<u8>, name: &str, kind: u8, bytes: &[u8]) {
    let body_len = 2 + kind.to_string().len() + name.len() + 1 + bytes.len();
    out.extend_from_slice(format!("{body_len}:({kind}){name}=").as_bytes());
    out.extend_from_slice(bytes);
    out.push(b',');
}

/// Encodes `msg` in the netstring framing, signed with the `auth N` key of `keys`: the
/// `auth=` field last, then the trailer.
pub fn emit(msg: &HeartbeatMessage, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let (index, method) = keys.signing();
    let fields: Vec<&Field> = msg.fields.iter().filter(|f| f.name != AUTH).collect();
    if let Some(bad) = fields.iter().find(|f| !valid_name(&f.name)) {
        return Err(EncodeError::Name(bad.name.clone()));
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(NS_START);
    for f in &fields {
        match &f.value {
            Value::Str(s) => put_field(&mut out, &f.name, 0, s.as_bytes()),
            Value::Bin(b) => put_field(&mut out, &f.name, 1, b),
            Value::Other { kind, bytes } => put_field(&mut out, &f.name, *kind, bytes),
        }
    }
    let inner = auth::mac(method, &classic_text(&msg.fields));
    put_field(&mut out, AUTH, 0, format!("{index} {inner}").as_bytes());
    out.extend_from_slice(NS_END);
    let token = format!("{index} {}", auth::mac(method, &out));
    out.extend_from_slice(format!("{}:{token},", token.len()).as_bytes());
    if out.len() > MAX_MSG {
        return Err(EncodeError::TooLong(out.len()));
    }
    Ok(out)
}

/// Decodes and authenticates one datagram; returns the message (without its `auth` field)
/// and the authkeys index that signed it.
pub fn parse(bytes: &[u8], keys: &AuthKeys) -> Result<(HeartbeatMessage, u8), DecodeError> {
    if bytes.len() > MAX_MSG {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    if bytes.starts_with(NS_START) {
        parse_netstring(bytes, keys)
    } else if bytes.starts_with(CLASSIC_START) {
        parse_classic(bytes, keys)
    } else {
        Err(DecodeError::NotHeartbeat)
    }
}

/// `LEN:` at the start of `rest`: the length and the bytes after the colon.
fn length_prefix(rest: &[u8]) -> Result<(usize, &[u8]), String> {
    let colon = rest
        .iter()
        .take(8)
        .position(|b| *b == b':')
        .ok_or("no length prefix")?;
    let digits = rest.get(..colon).unwrap_or_default();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("bad length prefix".into());
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or("bad length prefix")?;
    Ok((len, rest.get(colon + 1..).unwrap_or_default()))
}

/// `(T)name=value` (the type prefix may be absent: a string).
fn split_field(body: &[u8]) -> Result<(String, u8, &[u8]), String> {
    let (kind, rest) = match body.strip_prefix(b"(") {
        Some(r) => {
            let close = r.iter().position(|b| *b == b')').ok_or("unclosed type")?;
            let k = std::str::from_utf8(r.get(..close).unwrap_or_default())
                .ok()
                .and_then(|d| d.parse::<u8>().ok())
                .ok_or("bad type")?;
            (k, r.get(close + 1..).unwrap_or_default())
        }
        None => (0, body),
    };
    let eq = rest.iter().position(|b| *b == b'=').ok_or("no '='")?;
    let name =
        std::str::from_utf8(rest.get(..eq).unwrap_or_default()).map_err(|_| "name is not UTF-8")?;
    if !valid_name(name) {
        return Err(format!("bad name [{name}]"));
    }
    Ok((
        name.to_string(),
        kind,
        rest.get(eq + 1..).unwrap_or_default(),
    ))
}

fn value_of(kind: u8, bytes: &[u8]) -> Value {
    match kind {
        0 => match std::str::from_utf8(bytes) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Other {
                kind,
                bytes: bytes.to_vec(),
            },
        },
        1 => Value::Bin(bytes.to_vec()),
        _ => Value::Other {
            kind,
            bytes: bytes.to_vec(),
        },
    }
}

/// `N HEX`: the key index and the MAC.
fn auth_token(token: &str) -> Option<(u8, &str)> {
    let (n, hex) = token.split_once(' ')?;
    let n: u8 = n.parse().ok()?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((n, hex))
}

fn check(keys: &AuthKeys, index: u8, data: &[u8], hex: &str) -> Result<(), DecodeError> {
    let method: &AuthMethod = keys.get(index).ok_or(DecodeError::UnknownKey(index))?;
    if auth::verify(method, data, hex) {
        Ok(())
    } else {
        Err(DecodeError::BadAuth(index))
    }
}

fn parse_netstring(bytes: &[u8], keys: &AuthKeys) -> Result<(HeartbeatMessage, u8), DecodeError> {
    let mut rest = bytes.get(NS_START.len()..).unwrap_or_default();
    let mut msg = HeartbeatMessage::new();
    let mut index = 0;
    loop {
        if let Some(after) = rest.strip_prefix(NS_END) {
            rest = after;
            break;
        }
        let err = |what: String| DecodeError::Field { index, what };
        if rest.is_empty() {
            return Err(err("message ends before %%%".into()));
        }
        let (len, after) = length_prefix(rest).map_err(err)?;
        let body = after
            .get(..len)
            .ok_or_else(|| err(format!("length {len} runs past the end")))?;
        if after.get(len) != Some(&b',') {
            return Err(err("no ',' after the value".into()));
        }
        let (name, kind, value) = split_field(body).map_err(err)?;
        msg.push(&name, value_of(kind, value));
        rest = after.get(len + 1..).unwrap_or_default();
        index += 1;
    }
    let signed_len = bytes.len() - rest.len();
    if rest.is_empty() {
        return Err(DecodeError::Unsigned);
    }
    let (len, after) = length_prefix(rest).map_err(DecodeError::Trailer)?;
    let token = after
        .get(..len)
        .and_then(|t| std::str::from_utf8(t).ok())
        .ok_or_else(|| DecodeError::Trailer(format!("length {len} runs past the end")))?;
    if after.get(len..) != Some(b",".as_slice()) {
        return Err(DecodeError::Trailer("no ',' at the end".into()));
    }
    let (n, hex) =
        auth_token(token).ok_or_else(|| DecodeError::Trailer(format!("bad token [{token}]")))?;
    check(keys, n, bytes.get(..signed_len).unwrap_or_default(), hex)?;
    msg.fields.retain(|f| f.name != AUTH);
    Ok((msg, n))
}

fn parse_classic(bytes: &[u8], keys: &AuthKeys) -> Result<(HeartbeatMessage, u8), DecodeError> {
    let body = bytes.get(CLASSIC_START.len()..).unwrap_or_default();
    let mut msg = HeartbeatMessage::new();
    let mut ended = false;
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        let err = |what: &str| DecodeError::Field {
            index,
            what: what.to_string(),
        };
        if line == &CLASSIC_END[..3] {
            ended = true;
            break;
        }
        let (name, kind, value) = split_field(line).map_err(|e| err(&e))?;
        let value = if kind == 0 {
            value_of(0, value)
        } else {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| err("bad base64"))?;
            value_of(kind, &raw)
        };
        msg.push(&name, value);
    }
    if !ended {
        return Err(DecodeError::Field {
            index: msg.fields.len(),
            what: "message ends before <<<".into(),
        });
    }
    let token = msg.get(AUTH).ok_or(DecodeError::Unsigned)?.to_string();
    let (n, hex) =
        auth_token(&token).ok_or_else(|| DecodeError::Trailer(format!("bad auth [{token}]")))?;
    check(keys, n, &classic_text(&msg.fields), hex)?;
    msg.fields.retain(|f| f.name != AUTH);
    Ok((msg, n))
}

#[cfg(test)]
mod tests;
