//! `[service.tunnel]`: how the `ipip` real servers of a virtual service are reached (IPVS's
//! tunnel type, keepalived's `lvs_method TUN type gue port 5555 nocsum`, ipvsadm's
//! `--tun-type gue --tun-port 5555 --tun-nocsum`). ldirectord files only know `ipip`, and
//! must stay readable by ldirectord, so the encapsulation is set here.
//!
//! ```toml
//! [[service]]
//! file = "www.cf"
//! virtual = "203.0.113.10:80"
//!
//! [service.tunnel]
//! type = "gue"          # "ipip" (IPVS's default) or "gue"
//! port = 5555           # gue: the real servers' `ip fou add port 5555 gue`
//! checksum = "nocsum"   # gue: "nocsum" (the default), "csum" or "remcsum"
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::duration::line_of;
use crate::config::Collector;

/// The encapsulation of a service's `ipip` real servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// Plain IP-in-IP (`--tun-type ipip`), what an `ipip` real gets without this table.
    Ipip,
    /// IP-in-IP inside UDP (Generic UDP Encapsulation) to `port` of the real server.
    Gue { port: u16, checksum: Checksum },
}

/// GUE's checksum option (`IP_VS_TUNNEL_ENCAP_FLAG_*`, keepalived's and ipvsadm's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checksum {
    /// No UDP checksum (`--tun-nocsum`).
    #[default]
    Nocsum,
    /// A UDP checksum (`--tun-csum`).
    Csum,
    /// Remote checksum offload (`--tun-remcsum`).
    Remcsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Ipip,
    Gue,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTunnel {
    #[serde(rename = "type")]
    kind: Spanned<Kind>,
    port: Option<Spanned<u16>>,
    checksum: Option<Spanned<Checksum>>,
}

/// The table's value; every problem reported at its line.
pub(super) fn tunnel_table(raw: RawTunnel, text: &str, c: &mut Collector) -> Option<Tunnel> {
    let at = |s: std::ops::Range<usize>| line_of(text, s.start);
    match *raw.kind.get_ref() {
        Kind::Ipip => {
            let mut ok = true;
            if let Some(p) = &raw.port {
                c.error(at(p.span()), "service: tunnel: port is for type = \"gue\"");
                ok = false;
            }
            if let Some(k) = &raw.checksum {
                c.error(
                    at(k.span()),
                    "service: tunnel: checksum is for type = \"gue\"",
                );
                ok = false;
            }
            ok.then_some(Tunnel::Ipip)
        }
        Kind::Gue => {
            let port = match &raw.port {
                Some(p) if *p.get_ref() > 0 => *p.get_ref(),
                Some(p) => {
                    c.error(at(p.span()), "service: tunnel: port must be 1 to 65535");
                    return None;
                }
                None => {
                    c.error(
                        at(raw.kind.span()),
                        "service: tunnel: type = \"gue\" needs the port the real servers \
                         decapsulate on (their `ip fou add port PORT gue`)",
                    );
                    return None;
                }
            };
            Some(Tunnel::Gue {
                port,
                checksum: raw
                    .checksum
                    .map_or_else(Checksum::default, |k| *k.get_ref()),
            })
        }
    }
}
