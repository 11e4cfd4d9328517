//! `haresources`: resource groups and their preferred nodes.
//!
//! One group per logical line: `NODE RES1 RES2 ...`. A line ending in `\` continues on the
//! next; `#` starts a comment; whitespace is collapsed. NODE is the **preferred** owner
//! (lower-cased), the first resource is the group's key and must be unique. Resources are
//! started left to right and stopped right to left (by the caller).
//!
//! Resource spelling (as `ResourceManager`): `NAME::arg1::arg2` calls script NAME with the
//! arguments; a bare dotted-quad token means `IPaddr::token`. `IPaddr`, `IPaddr2`,
//! `IPv6addr` and `ldirectord` are recognised and typed; anything else is a script looked up
//! in `resource.d/NAME` then `/etc/init.d/NAME` by the caller.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::{strip_comment, Collector, ConfigError, Parsed};

/// An IPv4 address resource: `IP[/CIDR[/IFACE[/BROADCAST]]]` or `IP/CIDR/BROADCAST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv4Spec {
    pub ip: Ipv4Addr,
    /// Prefix length; `None` = take it from the route to the subnet.
    pub prefix: Option<u8>,
    /// Interface; `None` = the interface of the route to the subnet.
    pub iface: Option<String>,
    /// Broadcast; `None` = the highest address of the subnet.
    pub broadcast: Option<Ipv4Addr>,
}

/// An IPv6 address resource: `ADDR[/PREFIX[/IFACE]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv6Spec {
    pub ip: Ipv6Addr,
    pub prefix: Option<u8>,
    pub iface: Option<String>,
}

/// What a resource is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `IPaddr::...` or a bare address (Heartbeat adds an `eth0:N` alias).
    IpAddr(Ipv4Spec),
    /// `IPaddr2::...` (`ip addr`, no alias label needed).
    IpAddr2(Ipv4Spec),
    /// `IPv6addr::...`.
    Ipv6Addr(Ipv6Spec),
    /// `ldirectord` (uses `ldirectord.cf`) or `ldirectord::NAME` (the configuration named NAME:
    /// `/etc/ha.d/NAME`, `/etc/ha.d/conf/NAME`, or NAME as a path).
    Ldirectord { config: Option<String> },
    /// Any other script: `resource.d/NAME` or `/etc/init.d/NAME`, called as `NAME ARGS... ACTION`.
    Script { name: String, args: Vec<String> },
}

/// One resource as written, and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// The token as written in the file (used in log lines, as Heartbeat does).
    pub spec: String,
    pub kind: ResourceKind,
}

/// One haresources line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    /// 1-based line where the group starts.
    pub line: usize,
    /// The preferred node, lower-cased.
    pub preferred: String,
    /// At least one resource; the first is the key.
    pub resources: Vec<Resource>,
}

impl Group {
    /// The group key: the first resource as written (`ResourceManager listkeys`).
    pub fn key(&self) -> &str {
        self.resources
            .first()
            .map(|r| r.spec.as_str())
            .unwrap_or_default()
    }
}

/// The parsed file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Haresources {
    pub groups: Vec<Group>,
}

impl Haresources {
    /// A digest of the groups (preferred node and resources, in order). Two nodes with
    /// different haresources files get different digests; comments and spacing do not count.
    pub fn digest(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for g in &self.groups {
            h.update(g.preferred.as_bytes());
            for r in &g.resources {
                h.update(b" ");
                h.update(r.spec.as_bytes());
            }
            h.update(b"\n");
        }
        h.finalize()
    }
}

/// Parses the text of `haresources`. `file` is only used in diagnostics.
pub fn parse(file: &Path, text: &str) -> Result<Parsed<Haresources>, ConfigError> {
    let mut c = Collector::new(file);
    let mut groups: Vec<Group> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let body = strip_comment(raw);
        let (body, continues) = match body.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (body, false),
        };
        let (start, mut logical) = pending.take().unwrap_or((line, String::new()));
        logical.push(' ');
        logical.push_str(body);
        if continues {
            pending = Some((start, logical));
            continue;
        }
        if !logical.trim().is_empty() {
            if let Some(g) = parse_group(&mut c, start, &logical) {
                groups.push(g);
            }
        }
    }
    if let Some((start, logical)) = pending {
        c.warn(start, "the last line ends with a continuation backslash");
        if !logical.trim().is_empty() {
            if let Some(g) = parse_group(&mut c, start, &logical) {
                groups.push(g);
            }
        }
    }
    for (i, g) in groups.iter().enumerate() {
        if let Some(first) = groups.iter().take(i).find(|o| o.key() == g.key()) {
            c.error(
                g.line,
                format!(
                    "resource group key [{}] already used on line {}",
                    g.key(),
                    first.line
                ),
            );
        }
    }
    c.finish(Haresources { groups })
}

fn parse_group(c: &mut Collector, line: usize, logical: &str) -> Option<Group> {
    let mut words = logical.split_whitespace();
    let node = words.next()?;
    let mut resources = Vec::new();
    let mut ok = true;
    for w in words {
        match parse_resource(w) {
            Ok(r) => resources.push(r),
            Err(msg) => {
                c.error(line, msg);
                ok = false;
            }
        }
    }
    if resources.is_empty() && ok {
        c.error(line, format!("node {node} has no resources on this line"));
        return None;
    }
    ok.then(|| Group {
        line,
        preferred: node.to_lowercase(),
        resources,
    })
}

fn looks_like_ipv4(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit())
        && token
            .split('/')
            .next()
            .is_some_and(|ip| ip.matches('.').count() == 3)
}

/// Parses one resource token.
pub fn parse_resource(token: &str) -> Result<Resource, String> {
    let spec = token.to_string();
    if !token.contains("::") {
        if looks_like_ipv4(token) {
            return Ok(Resource {
                spec,
                kind: ResourceKind::IpAddr(parse_ipv4_spec(token)?),
            });
        }
        return script(spec, token, Vec::new());
    }
    let mut parts = token.split("::");
    let name = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    let one_arg = |what: &str| -> Result<&str, String> {
        match args.as_slice() {
            [a] if !a.is_empty() => Ok(a),
            _ => Err(format!("{what}: expected {what}::ADDRESS, got [{token}]")),
        }
    };
    let kind = match name {
        "IPaddr" => ResourceKind::IpAddr(parse_ipv4_spec(one_arg(name)?)?),
        "IPaddr2" => ResourceKind::IpAddr2(parse_ipv4_spec(one_arg(name)?)?),
        // IPv6 addresses contain "::" themselves: everything after the name is the address.
        "IPv6addr" => ResourceKind::Ipv6Addr(parse_ipv6_spec(token, &args.join("::"))?),
        "ldirectord" => match args.as_slice() {
            [] => ResourceKind::Ldirectord { config: None },
            [n] if !n.is_empty() => ResourceKind::Ldirectord {
                config: Some(n.to_string()),
            },
            _ => {
                return Err(format!(
                    "ldirectord takes one configuration name, got [{token}]"
                ))
            }
        },
        _ => {
            return script(spec, name, args.iter().map(ToString::to_string).collect());
        }
    };
    Ok(Resource { spec, kind })
}

fn script(spec: String, name: &str, args: Vec<String>) -> Result<Resource, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid resource script name [{name}] in [{spec}]"));
    }
    if args.iter().any(String::is_empty) {
        return Err(format!("empty argument in [{spec}]"));
    }
    if name == "ldirectord" {
        return Ok(Resource {
            spec,
            kind: ResourceKind::Ldirectord { config: None },
        });
    }
    Ok(Resource {
        spec,
        kind: ResourceKind::Script {
            name: name.to_string(),
            args,
        },
    })
}

fn valid_iface(s: &str) -> bool {
    !s.is_empty() && s.len() < 16 && !s.contains([' ', '/'])
}

fn parse_prefix(text: &str, max: u8, whole: &str) -> Result<u8, String> {
    if let Ok(n) = text.parse::<u8>() {
        if n <= max {
            return Ok(n);
        }
    }
    if max == 32 {
        if let Ok(mask) = text.parse::<Ipv4Addr>() {
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() == 32 {
                return Ok(bits.leading_ones() as u8);
            }
        }
    }
    Err(format!("invalid netmask [{text}] in [{whole}]"))
}

/// Parses `IP[/CIDR[/IFACE[/BROADCAST]]]` (or `IP/CIDR/BROADCAST`).
pub fn parse_ipv4_spec(text: &str) -> Result<Ipv4Spec, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let ip_text = parts.first().copied().unwrap_or_default();
    let ip: Ipv4Addr = ip_text
        .parse()
        .map_err(|_| format!("invalid IPv4 address [{ip_text}] in [{text}]"))?;
    let mut spec = Ipv4Spec {
        ip,
        prefix: None,
        iface: None,
        broadcast: None,
    };
    if parts.len() > 4 {
        return Err(format!(
            "too many parts in [{text}] (IP/CIDR/IFACE/BROADCAST)"
        ));
    }
    if let Some(p) = parts.get(1) {
        spec.prefix = Some(parse_prefix(p, 32, text)?);
    }
    let parse_bcast = |b: &str| -> Result<Ipv4Addr, String> {
        b.parse()
            .map_err(|_| format!("invalid broadcast address [{b}] in [{text}]"))
    };
    match (parts.get(2), parts.get(3)) {
        (Some(third), None) if third.starts_with(|c: char| c.is_ascii_digit()) => {
            spec.broadcast = Some(parse_bcast(third)?);
        }
        (Some(iface), rest) => {
            if !valid_iface(iface) {
                return Err(format!("invalid interface [{iface}] in [{text}]"));
            }
            spec.iface = Some(iface.to_string());
            if let Some(b) = rest {
                spec.broadcast = Some(parse_bcast(b)?);
            }
        }
        (None, _) => {}
    }
    Ok(spec)
}

fn parse_ipv6_spec(whole: &str, text: &str) -> Result<Ipv6Spec, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let ip_text = parts.first().copied().unwrap_or_default();
    let ip: Ipv6Addr = ip_text
        .parse()
        .map_err(|_| format!("invalid IPv6 address [{ip_text}] in [{whole}]"))?;
    if parts.len() > 3 {
        return Err(format!("too many parts in [{whole}] (ADDR/PREFIX/IFACE)"));
    }
    let prefix = parts
        .get(1)
        .map(|p| parse_prefix(p, 128, whole))
        .transpose()?;
    let iface = match parts.get(2) {
        Some(i) if valid_iface(i) => Some(i.to_string()),
        Some(i) => return Err(format!("invalid interface [{i}] in [{whole}]")),
        None => None,
    };
    Ok(Ipv6Spec { ip, prefix, iface })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Result<Parsed<Haresources>, ConfigError> {
        parse(Path::new("haresources"), text)
    }

    #[test]
    fn the_seed_lines() {
        let h = p("XD_Blog_Web_184_251 IPaddr::202.106.184.132/24/202.106.184.255 httpd\n")
            .unwrap()
            .value;
        let g = &h.groups[0];
        assert_eq!(g.preferred, "xd_blog_web_184_251");
        assert_eq!(g.key(), "IPaddr::202.106.184.132/24/202.106.184.255");
        assert_eq!(
            g.resources[0].kind,
            ResourceKind::IpAddr(Ipv4Spec {
                ip: Ipv4Addr::new(202, 106, 184, 132),
                prefix: Some(24),
                iface: None,
                broadcast: Some(Ipv4Addr::new(202, 106, 184, 255)),
            })
        );
        assert_eq!(
            g.resources[1].kind,
            ResourceKind::Script {
                name: "httpd".into(),
                args: vec![]
            }
        );

        let h = p("ha01 IPaddr::202.106.184.132/24/eth0 ipvsadm ldirectord::www\n")
            .unwrap()
            .value;
        let kinds: Vec<_> = h.groups[0]
            .resources
            .iter()
            .map(|r| r.kind.clone())
            .collect();
        assert_eq!(
            kinds[2],
            ResourceKind::Ldirectord {
                config: Some("www".into())
            }
        );
        assert!(matches!(&kinds[0], ResourceKind::IpAddr(s) if s.iface.as_deref() == Some("eth0")));
    }

    #[test]
    fn shipped_examples() {
        let h = p("node1 10.0.0.170 Filesystem::/dev/sda1::/data1::ext2\n\
                   just.linux-ha.org 135.9.216.3/28/eth0/135.9.216.12 httpd\n")
        .unwrap()
        .value;
        assert_eq!(h.groups.len(), 2);
        assert_eq!(
            h.groups[0].resources[1].kind,
            ResourceKind::Script {
                name: "Filesystem".into(),
                args: vec!["/dev/sda1".into(), "/data1".into(), "ext2".into()]
            }
        );
        assert_eq!(
            h.groups[1].resources[0].kind,
            ResourceKind::IpAddr(Ipv4Spec {
                ip: Ipv4Addr::new(135, 9, 216, 3),
                prefix: Some(28),
                iface: Some("eth0".into()),
                broadcast: Some(Ipv4Addr::new(135, 9, 216, 12)),
            })
        );
    }

    #[test]
    fn other_address_kinds() {
        let r = parse_resource("IPaddr2::192.0.2.100/255.255.255.0").unwrap();
        assert!(matches!(
            r.kind,
            ResourceKind::IpAddr2(Ipv4Spec {
                prefix: Some(24),
                ..
            })
        ));
        let r = parse_resource("IPv6addr::2001:db8::10/64/eth0").unwrap();
        assert_eq!(
            r.kind,
            ResourceKind::Ipv6Addr(Ipv6Spec {
                ip: "2001:db8::10".parse().unwrap(),
                prefix: Some(64),
                iface: Some("eth0".into())
            })
        );
        assert_eq!(
            parse_resource("ldirectord").unwrap().kind,
            ResourceKind::Ldirectord { config: None }
        );
        assert!(parse_resource("IPaddr::300.1.1.1").is_err());
        assert!(parse_resource("IPaddr::192.0.2.1/33").is_err());
        assert!(parse_resource("IPaddr::192.0.2.1/255.0.255.0").is_err());
        assert!(parse_resource("IPaddr").is_ok()); // a script named IPaddr without args
        assert!(parse_resource("IPaddr::").is_err());
        assert!(parse_resource("../evil").is_err());
        assert!(parse_resource("x::::y").is_err());
        assert!(parse_resource("ldirectord::a::b").is_err());
    }

    #[test]
    fn continuations_and_comments() {
        let h = p("# comment\nha01 192.0.2.100 \\\n   httpd # web\\\n\nha02 192.0.2.101\n")
            .unwrap()
            .value;
        assert_eq!(h.groups.len(), 2);
        assert_eq!(h.groups[0].line, 2);
        assert_eq!(h.groups[0].resources.len(), 2);
        assert_eq!(h.groups[1].line, 5);
    }

    #[test]
    fn errors_are_collected() {
        let e = p("ha01\nha01 IPaddr::1.2.3.999 x\nha02 a\nha02 a b\n").unwrap_err();
        let errs: Vec<String> = e.errors().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(
            errs[0],
            "haresources:1: node ha01 has no resources on this line"
        );
        assert!(errs[1].starts_with("haresources:2: invalid IPv4 address [1.2.3.999]"));
        assert_eq!(
            errs[2],
            "haresources:4: resource group key [a] already used on line 3"
        );
    }

    #[test]
    fn digest_ignores_formatting_only() {
        let a = p("ha01 192.0.2.1 httpd\n").unwrap().value;
        let b = p("# x\nha01   192.0.2.1 \\\n httpd\n").unwrap().value;
        let c = p("ha02 192.0.2.1 httpd\n").unwrap().value;
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }

    proptest! {
        #[test]
        fn never_panics(text in ".*") {
            let _ = p(&text);
        }

        #[test]
        fn resources_never_panic(token in "[0-9a-zA-Z:./_%-]{0,40}") {
            let _ = parse_resource(&token);
        }

        #[test]
        fn ipv4_specs_round_trip(a in any::<u32>(), prefix in 0u8..=32) {
            let ip = Ipv4Addr::from(a);
            let s = parse_ipv4_spec(&format!("{ip}/{prefix}/eth0")).unwrap();
            prop_assert_eq!(s, Ipv4Spec { ip, prefix: Some(prefix), iface: Some("eth0".into()), broadcast: None });
        }
    }
}
