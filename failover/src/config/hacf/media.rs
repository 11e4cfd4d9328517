//! The media directives (`bcast`, `mcast`, `mcast6`, `ucast`, `ucast6`, `serial`) and the
//! settings that apply to the media after them (`udpport`, `baud`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::parser::Parser;
use super::value::{parse_host, valid_iface, BAUDS};
use super::{Host, Medium, Serial};

impl Parser {
    pub(super) fn udpport(&mut self, line: usize, v: &str) {
        match v.parse::<u16>() {
            Ok(port) if port > 0 => {
                if let Some(m) = self.seen.media_line {
                    self.c.warn(
                        line,
                        format!(
                            "udpport after the medium on line {m}: media read before this line \
                             keep port {} (Heartbeat applies udpport only to later media)",
                            self.cf.udpport
                        ),
                    );
                }
                self.cf.udpport = port;
            }
            _ => self.c.error(line, format!("udpport: invalid port [{v}]")),
        }
    }

    pub(super) fn push_medium(&mut self, line: usize, m: Medium) {
        self.seen.media_line.get_or_insert(line);
        self.cf.media.push(m);
    }

    pub(super) fn bcast(&mut self, line: usize, v: &str) {
        if !valid_iface(v) {
            self.c
                .error(line, format!("bcast: invalid interface name [{v}]"));
            return;
        }
        let port = self.cf.udpport;
        self.push_medium(
            line,
            Medium::Bcast {
                iface: v.to_string(),
                port,
            },
        );
    }

    pub(super) fn mcast_common(
        &mut self,
        line: usize,
        name: &str,
        rest: &str,
    ) -> Option<(String, String, u16, u8, bool)> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, group, port, ttl, looped] = words.as_slice() else {
            self.c.error(
                line,
                format!("{name}: expected {name} DEV GROUP PORT TTL LOOP"),
            );
            return None;
        };
        let mut ok = true;
        if !valid_iface(dev) {
            self.c
                .error(line, format!("{name}: invalid interface name [{dev}]"));
            ok = false;
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                self.c.error(line, format!("{name}: invalid port [{port}]"));
                ok = false;
                0
            }
        };
        let ttl = match ttl.parse::<u8>() {
            Ok(t) if t > 0 => t,
            _ => {
                self.c
                    .error(line, format!("{name}: invalid ttl [{ttl}] (1..255)"));
                ok = false;
                0
            }
        };
        let looped = match *looped {
            "0" => false,
            "1" => {
                self.c.warn(
                    line,
                    format!("{name}: loop 1 sends our own packets back to us; use 0"),
                );
                true
            }
            other => {
                self.c
                    .error(line, format!("{name}: invalid loop [{other}] (0 or 1)"));
                ok = false;
                false
            }
        };
        ok.then(|| (dev.to_string(), group.to_string(), port, ttl, looped))
    }

    pub(super) fn mcast(&mut self, line: usize, rest: &str) {
        let Some((iface, group, port, ttl, looped)) = self.mcast_common(line, "mcast", rest) else {
            return;
        };
        match group.parse::<Ipv4Addr>() {
            Ok(g) if g.is_multicast() => self.push_medium(
                line,
                Medium::Mcast {
                    iface,
                    group: g,
                    port,
                    ttl,
                    looped,
                },
            ),
            _ => self.c.error(
                line,
                format!("mcast: [{group}] is not an IPv4 multicast group"),
            ),
        }
    }

    pub(super) fn mcast6(&mut self, line: usize, rest: &str) {
        let Some((iface, group, port, hops, looped)) = self.mcast_common(line, "mcast6", rest)
        else {
            return;
        };
        match group.parse::<Ipv6Addr>() {
            Ok(g) if g.is_multicast() => self.push_medium(
                line,
                Medium::Mcast6 {
                    iface,
                    group: g,
                    port,
                    hops,
                    looped,
                },
            ),
            _ => self.c.error(
                line,
                format!("mcast6: [{group}] is not an IPv6 multicast group"),
            ),
        }
    }

    pub(super) fn ucast(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, peer] = words.as_slice() else {
            self.c
                .error(line, "ucast: expected ucast DEV PEER (one peer per line)");
            return;
        };
        if !valid_iface(dev) {
            self.c
                .error(line, format!("ucast: invalid interface name [{dev}]"));
            return;
        }
        match parse_host(peer) {
            Some(Host::Ip(IpAddr::V6(_))) => self.c.error(
                line,
                format!("ucast: [{peer}] is an IPv6 address: use ucast6"),
            ),
            Some(host) => {
                let port = self.cf.udpport;
                self.push_medium(
                    line,
                    Medium::Ucast {
                        iface: dev.to_string(),
                        peer: host,
                        port,
                    },
                )
            }
            None => self
                .c
                .error(line, format!("ucast: invalid peer address [{peer}]")),
        }
    }

    pub(super) fn ucast6(&mut self, line: usize, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [dev, peer] = words.as_slice() else {
            self.c
                .error(line, "ucast6: expected ucast6 DEV PEER (one peer per line)");
            return;
        };
        if !valid_iface(dev) {
            self.c
                .error(line, format!("ucast6: invalid interface name [{dev}]"));
            return;
        }
        let (addr, scope) = match peer.split_once('%') {
            Some((a, s)) if !s.is_empty() => (a, Some(s.to_string())),
            Some(_) => {
                self.c
                    .error(line, format!("ucast6: empty scope in [{peer}]"));
                return;
            }
            None => (*peer, None),
        };
        match addr.parse::<Ipv6Addr>() {
            Ok(ip) => {
                let port = self.cf.udpport;
                self.push_medium(
                    line,
                    Medium::Ucast6 {
                        iface: dev.to_string(),
                        peer: ip,
                        scope,
                        port,
                    },
                )
            }
            Err(_) => self
                .c
                .error(line, format!("ucast6: invalid IPv6 address [{addr}]")),
        }
    }

    pub(super) fn serial(&mut self, line: usize, v: &str) {
        if !v.starts_with('/') {
            self.c.error(
                line,
                format!("serial: [{v}] is not an absolute device path"),
            );
            return;
        }
        if self.cf.serial.is_empty() {
            self.c.warn(
                line,
                "serial links are not used by director: heartbeats travel over the UDP media only",
            );
        }
        self.cf.serial.push(Serial {
            tty: PathBuf::from(v),
            baud: self.baud,
        });
    }

    pub(super) fn baud(&mut self, line: usize, v: &str) {
        if std::mem::replace(&mut self.seen.baud, true) {
            self.c.error(line, "baud may only appear once");
            return;
        }
        match v.parse::<u32>() {
            Ok(b) if BAUDS.contains(&b) => {
                if !self.cf.serial.is_empty() {
                    self.c.warn(
                        line,
                        "baud after serial: the serial lines above keep the old speed",
                    );
                }
                self.c.warn(
                    line,
                    "directive baud is ignored by director: serial links are not used",
                );
                self.baud = b;
            }
            _ => self.c.error(
                line,
                format!("baud: invalid speed [{v}] (9600 19200 38400 57600 115200 230400 460800)"),
            ),
        }
    }
}
