//! `director.conf`'s `[[service]]` tables laid over an ldirectord file: what director adds to
//! a virtual service (quorum, the pages of an HTTP check) without a directive ldirectord
//! would not read.
//!
//! Which `director.conf`: the one beside the ldirectord file (`/etc/ha.d/director.conf` for
//! `/etc/ha.d/www.cf`, whether the file runs under `director run`, as an `ldirectord::www`
//! resource or under `ldirectord start`); for a file in ldirectord's `conf/` directory, the
//! one of the directory above. A table names its file as haresources or `ldirectord` does
//! (`www`, `www.cf`, or a path) and its virtual service as the file's `virtual=` line writes
//! it. A table naming this file and a virtual service it does not have is an error at the
//! table's line; a table naming another file is that file's business (`director check`
//! reports tables naming no file at all).

use std::path::{Path, PathBuf};

use failover::config::settings::{self, ServiceProtocol, Target};
use healthcheck::spec::Service;

use super::ldirectord::{CheckType, Config, Method, Protocol, VirtualAddress};
use super::{Diagnostic, Diagnostics};

/// The `director.conf` that applies to the ldirectord file at `path`.
pub fn settings_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let beside = dir.join(settings::FILE_NAME);
    match dir.parent() {
        Some(up) if dir.file_name().is_some_and(|n| n == "conf") && !beside.is_file() => {
            up.join(settings::FILE_NAME)
        }
        _ => beside,
    }
}

/// Whether a table's `file` names the ldirectord file at `path` (`www` and `www.cf` both
/// name `www.cf`, as ldirectord's lookup does; a path names the file at that path).
pub fn names(file: &str, path: &Path) -> bool {
    if file.contains('/') {
        return Path::new(file) == path
            || std::fs::canonicalize(file)
                .ok()
                .zip(std::fs::canonicalize(path).ok())
                .is_some_and(|(a, b)| a == b);
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == file || name.strip_suffix(".cf") == Some(file)
}

fn matches(s: &settings::Service, address: &VirtualAddress) -> bool {
    match (s.target, address) {
        (
            Target::Addr(a),
            VirtualAddress::Addr {
                protocol,
                addr,
                port,
            },
        ) => {
            a.ip() == *addr
                && a.port() == *port
                && match s.protocol {
                    None => true,
                    Some(ServiceProtocol::Tcp) => *protocol == Protocol::Tcp,
                    Some(ServiceProtocol::Udp) => *protocol == Protocol::Udp,
                }
        }
        (Target::Fwmark(m), VirtualAddress::Fwmark { mark, .. }) => m == *mark,
        _ => false,
    }
}

/// Lays the tables of `services` that name `path` over `config`; every table naming this
/// file that finds no virtual service, or two, is an error at its line of `conf`.
pub fn apply(
    config: &mut Config,
    path: &Path,
    conf: &Path,
    services: &[settings::Service],
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let shown = path.display();
    for s in services.iter().filter(|s| names(&s.file, path)) {
        let found: Vec<usize> = config
            .virtuals
            .iter()
            .enumerate()
            .filter(|(_, v)| matches(s, &v.address))
            .map(|(i, _)| i)
            .collect();
        let addr_twice = found.len() > 1 && matches!(s.target, Target::Addr(_));
        if found.is_empty() {
            errors.push(Diagnostic::error(
                conf,
                s.line,
                format!("service {} is not a virtual service of {shown}", s.target),
            ));
        } else if addr_twice {
            errors.push(Diagnostic::error(
                conf,
                s.line,
                format!(
                    "service {} is in {shown} for tcp and for udp: say which with protocol",
                    s.target
                ),
            ));
        } else {
            for i in found {
                let v = &mut config.virtuals[i];
                let http = matches!(v.service, Service::Http | Service::Https)
                    && matches!(v.checktype, CheckType::Negotiate | CheckType::Combined(_));
                if !s.extra.pages.is_empty() && !http {
                    errors.push(Diagnostic::error(
                        conf,
                        s.line,
                        format!(
                            "service {}: url applies to an http or https negotiate check, and \
                             {shown} checks it with checktype={} service={}",
                            s.target,
                            v.checktype.name(),
                            v.service
                        ),
                    ));
                    continue;
                }
                let ipip = v
                    .reals
                    .iter()
                    .map(|r| r.method)
                    .chain(v.fallback.map(|f| f.method))
                    .any(|m| m == Method::Ipip);
                if s.extra.tunnel.is_some() && !ipip {
                    errors.push(Diagnostic::error(
                        conf,
                        s.line,
                        format!(
                            "service {}: tunnel applies to ipip real servers, and {shown} has \
                             none in this service (real=ADDRESS:PORT ipip)",
                            s.target
                        ),
                    ));
                    continue;
                }
                v.director = s.extra.clone();
            }
        }
    }
    errors
}

/// Reads the `director.conf` of the ldirectord file at `path` (none: nothing to add) and lays
/// its tables over `config`. Errors of `director.conf` itself are reported too: a file that
/// would run with settings it cannot read is refused (at a reload: the running configuration
/// is kept).
pub fn load_and_apply(config: &mut Config, path: &Path) -> Result<(), Diagnostics> {
    let conf = settings_path(path);
    let text = match std::fs::read(&conf) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Diagnostics::new(vec![Diagnostic::error(
                &conf,
                0,
                format!("can not open file: {e}"),
            )]))
        }
    };
    let parsed = settings::parse(&conf, &text)?;
    let errors = apply(config, path, &conf, &parsed.value.services);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics::new(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Services, StaticResolver};

    fn config(text: &str) -> Config {
        let r = StaticResolver::new(Services::default()).with_hostname("director1");
        crate::config::ldirectord::parse(text, "www.cf", &r)
            .expect("parses")
            .0
    }

    fn services(text: &str) -> Vec<settings::Service> {
        settings::parse(Path::new("director.conf"), text)
            .expect("parses")
            .value
            .services
    }

    /// The errors of laying `s` over `c` as the file `www.cf`, as text.
    fn errors_of(c: &mut Config, s: &[settings::Service]) -> Vec<String> {
        apply(c, Path::new("www.cf"), Path::new("d.conf"), s)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const WWW: &str = "\
virtual=192.0.2.132:80
\treal=198.51.100.1:80 gate
\tprotocol=tcp
virtual=192.0.2.132:53
\treal=198.51.100.1:53 gate
\tprotocol=tcp
virtual=192.0.2.132:53
\treal=198.51.100.1:53 gate
\tprotocol=udp
virtual=7
\treal=198.51.100.1 gate
";

    #[test]
    fn tables_land_on_their_virtual_service() {
        let mut c = config(WWW);
        let s = services(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:80\"\nquorum = 2\n\
             [[service]]\nfile = \"www.cf\"\nvirtual = \"192.0.2.132:53\"\nprotocol = \"udp\"\n\
             hysteresis = 1\n\
             [[service]]\nfile = \"other.cf\"\nvirtual = \"192.0.2.99:80\"\nquorum = 5\n\
             [[service]]\nfile = \"www\"\nvirtual = \"7\"\nquorum_down = \"/bin/true\"\n",
        );
        let errors = apply(
            &mut c,
            Path::new("/etc/ha.d/www.cf"),
            Path::new("d.conf"),
            &s,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let q = |i: usize| {
            c.virtuals[i]
                .director
                .quorum
                .map(|q| (q.quorum, q.hysteresis))
        };
        assert_eq!(q(0), Some((2, 0)));
        assert_eq!(q(1), None, "the tcp service is not the udp one");
        assert_eq!(q(2), Some((1, 1)));
        assert_eq!(q(3), Some((1, 0)));
    }

    #[test]
    fn a_table_that_finds_no_service_or_two_is_an_error_at_its_line() {
        let mut c = config(WWW);
        let s = services(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:81\"\nquorum = 2\n\
             [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:53\"\nquorum = 2\n\
             [[service]]\nfile = \"www\"\nvirtual = \"8\"\n\
             [[service]]\nfile = \"www\"\nvirtual = \"7\"\n[[service.url]]\npath = \"/\"\n",
        );
        let errors = errors_of(&mut c, &s);
        assert_eq!(
            errors,
            [
                "d.conf:3: service 192.0.2.132:81 is not a virtual service of www.cf",
                "d.conf:7: service 192.0.2.132:53 is in www.cf for tcp and for udp: say which \
                 with protocol",
                "d.conf:11: service 8 is not a virtual service of www.cf",
                "d.conf:14: service 7: url applies to an http or https negotiate check, and \
                 www.cf checks it with checktype=negotiate service=none",
            ]
        );
    }

    #[test]
    fn a_tunnel_needs_an_ipip_real_in_its_service() {
        let mut c = config(
            "virtual=192.0.2.132:80\n\treal=198.51.100.1:80 ipip\n\
             virtual=192.0.2.133:80\n\treal=198.51.100.1:80 gate\n",
        );
        let s = services(
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:80\"\n\
             [service.tunnel]\ntype = \"gue\"\nport = 5555\n\
             [[service]]\nfile = \"www\"\nvirtual = \"192.0.2.133:80\"\n\
             [service.tunnel]\ntype = \"ipip\"\n",
        );
        let errors = errors_of(&mut c, &s);
        assert_eq!(
            errors,
            [
                "d.conf:9: service 192.0.2.133:80: tunnel applies to ipip real servers, and \
              www.cf has none in this service (real=ADDRESS:PORT ipip)"
            ]
        );
        assert!(c.virtuals[0].director.tunnel.is_some());
        assert_eq!(c.virtuals[1].director.tunnel, None);
    }

    #[test]
    fn file_names_follow_ldirectords_lookup() {
        let p = Path::new("/etc/ha.d/www.cf");
        assert!(names("www", p) && names("www.cf", p) && names("/etc/ha.d/www.cf", p));
        assert!(!names("ww", p) && !names("www.c", p) && !names("/etc/www.cf", p));
        assert!(names("ldirectord.cf", Path::new("ldirectord.cf")));
        assert_eq!(
            settings_path(Path::new("/etc/ha.d/www.cf")),
            Path::new("/etc/ha.d/director.conf")
        );
        assert_eq!(
            settings_path(Path::new("/nonexistent/ha.d/conf/www.cf")),
            Path::new("/nonexistent/ha.d/director.conf")
        );
    }

    #[test]
    fn load_reads_the_director_conf_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www.cf");
        std::fs::write(&www, WWW).unwrap();
        let mut c = config(WWW);
        // No director.conf: nothing added.
        load_and_apply(&mut c, &www).unwrap();
        assert!(c.virtuals.iter().all(|v| v.director.quorum.is_none()));
        std::fs::write(
            dir.path().join("director.conf"),
            "[[service]]\nfile = \"www\"\nvirtual = \"192.0.2.132:80\"\nquorum = 3\n",
        )
        .unwrap();
        load_and_apply(&mut c, &www).unwrap();
        assert_eq!(c.virtuals[0].director.quorum.map(|q| q.quorum), Some(3));
        std::fs::write(
            dir.path().join("director.conf"),
            "[[service]]\nquorum = 3\n",
        )
        .unwrap();
        let e = load_and_apply(&mut c, &www).unwrap_err().to_string();
        assert!(e.contains("director.conf:"), "{e}");
    }
}

#[cfg(test)]
mod sample {
    use super::*;
    use crate::config::{Services, StaticResolver};

    /// configs/director.conf's commented `[[service]]` example, uncommented, lays over
    /// configs/www.cf as it says.
    #[test]
    fn the_samples_service_example_applies_to_the_seed_file() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let sample = std::fs::read_to_string(configs.join("director.conf")).unwrap();
        let example: String = sample
            .lines()
            .skip_while(|l| *l != "# [[service]]")
            .take_while(|l| l.starts_with("# "))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(example.starts_with("[[service]]\n"), "{example}");
        let parsed = settings::parse(Path::new("director.conf"), &example).unwrap();
        let www = configs.join("www.cf");
        let r = StaticResolver::new(Services::default()).with_hostname("director1");
        let text = std::fs::read_to_string(&www).unwrap();
        let (mut config, _) = crate::config::ldirectord::parse(&text, "www.cf", &r).unwrap();
        let errors = apply(
            &mut config,
            &www,
            Path::new("director.conf"),
            &parsed.value.services,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let extra = &config.virtuals[0].director;
        assert_eq!(extra.pages.len(), 2);
        assert_eq!(extra.checks.len(), 1);
        assert!(extra.quorum.is_some() && extra.quorum_up.is_some());
    }
}
