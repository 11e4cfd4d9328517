//! ldirectord's `maintenancedir` names (ldirectord.md 5.4): the file names that put a real
//! server in maintenance (pure; `daemon::lvs` reads the directory and does the reverse
//! lookup).

use healthcheck::spec::host_string;

/// The file names that put `real` in maintenance, in ldirectord's order: `<ip>:<port>`,
/// `<ip>`, `<fqdn>:<port>`, `<fqdn>`, `<short>:<port>`, `<short>` (IPv6 as `[addr]:port` /
/// `[addr]`); `fqdn` is its reverse-DNS name, and its first label (if the name matches
/// `^[a-z][a-z0-9-]+\.`) the short name.
pub fn maintenance_names(real: std::net::SocketAddr, fqdn: Option<&str>) -> Vec<String> {
    let port = real.port();
    let host = host_string(real.ip());
    let mut names = vec![format!("{host}:{port}"), host];
    if let Some(fqdn) = fqdn.filter(|f| !f.is_empty()) {
        names.push(format!("{fqdn}:{port}"));
        names.push(fqdn.to_string());
        if let Some(short) = short_name(fqdn) {
            names.push(format!("{short}:{port}"));
            names.push(short.to_string());
        }
    }
    names
}

/// ldirectord's `/^([a-z][a-z0-9\-]+)\./` on the reverse name.
fn short_name(fqdn: &str) -> Option<&str> {
    let (first, _) = fqdn.split_once('.')?;
    let mut chars = first.chars();
    let lead = chars.next()?;
    let ok = lead.is_ascii_lowercase()
        && first.len() >= 2
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> std::net::SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn maintenance_names_in_ldirectords_order() {
        assert_eq!(
            maintenance_names(sa("192.0.2.1:80"), Some("web1.example.com")),
            [
                "192.0.2.1:80",
                "192.0.2.1",
                "web1.example.com:80",
                "web1.example.com",
                "web1:80",
                "web1"
            ]
        );
        assert_eq!(
            maintenance_names(sa("[2001:db8::1]:443"), None),
            ["[2001:db8::1]:443", "[2001:db8::1]"]
        );
        // no short name unless the first label matches ^[a-z][a-z0-9-]+ and a dot follows
        for fqdn in [
            "Web1.example.com",
            "w.example.com",
            "1web.example.com",
            "web1",
            "we_b.x",
        ] {
            assert_eq!(
                maintenance_names(sa("192.0.2.1:80"), Some(fqdn)).len(),
                4,
                "{fqdn}"
            );
        }
        assert_eq!(
            maintenance_names(sa("192.0.2.1:80"), Some("db-2.lan"))[4..],
            ["db-2:80", "db-2"]
        );
    }
}
