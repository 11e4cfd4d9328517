//! Small wire helpers shared by the attribute codecs: the nlctrl family id, addresses,
//! NUL-terminated strings.

use netlink_packet_core::{parse_u16, DecodeError, ErrorContext, NlasIterator};

/// nlctrl `CTRL_ATTR_FAMILY_ID`.
const CTRL_ATTR_FAMILY_ID: u16 = 1;

/// The family id in an nlctrl `NEWFAMILY` reply's attributes (after the `genlmsghdr`).
///
/// Read by hand rather than through `GenlCtrl`, whose parser refuses attributes it does not
/// know: a newer kernel adding one must not make IPVS unusable.
pub fn parse_family_id(ctrl_attrs: &[u8]) -> Result<u16, DecodeError> {
    for nla in NlasIterator::new(ctrl_attrs) {
        let nla = nla.context("nlctrl reply")?;
        if nla.kind() == CTRL_ATTR_FAMILY_ID {
            return parse_u16(nla.value()).context("nlctrl reply: CTRL_ATTR_FAMILY_ID");
        }
    }
    Err(DecodeError::from("nlctrl reply has no CTRL_ATTR_FAMILY_ID"))
}

/// An address attribute: up to 16 bytes, zero-filled (what the kernel does with it).
pub(crate) fn parse_addr(payload: &[u8]) -> Result<[u8; 16], DecodeError> {
    let mut addr = [0u8; 16];
    match addr.get_mut(..payload.len()) {
        Some(head) => {
            head.copy_from_slice(payload);
            Ok(addr)
        }
        None => Err(DecodeError::from(format!(
            "an address has at most 16 bytes, not {}",
            payload.len()
        ))),
    }
}

/// Exactly 4 raw bytes.
pub(crate) fn parse_raw4(payload: &[u8]) -> Result<[u8; 4], DecodeError> {
    <[u8; 4]>::try_from(payload)
        .map_err(|_| DecodeError::from(format!("expected 4 bytes, not {}", payload.len())))
}

/// A NUL-terminated string: everything up to the first NUL (or the end).
pub(crate) fn parse_nul_string(payload: &[u8]) -> Result<String, DecodeError> {
    let end = payload
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(payload.len());
    let bytes = payload.get(..end).unwrap_or_default();
    String::from_utf8(bytes.to_vec()).map_err(DecodeError::from)
}

/// Write `s` and its terminating NUL; the buffer is `s.len() + 1` bytes.
pub(crate) fn emit_string(buffer: &mut [u8], s: &str) {
    let n = s.len().min(buffer.len());
    if let (Some(dst), Some(src)) = (buffer.get_mut(..n), s.as_bytes().get(..n)) {
        dst.copy_from_slice(src);
    }
    if let Some(nul) = buffer.get_mut(n) {
        *nul = 0;
    }
}
