//! ldirectord's `monitorfile=`: one line per check result of a real server of the virtual
//! (ldirectord.md 4.3, 7):
//! `[<ctime>] [<pid>] <real id, ':' runs turned into one blank, '\' removed> [up|down] <message>`
//! with `%`, `|`, CR and LF of the message percent-encoded.
//!
//! The formatting (pure); `daemon::monitor::writer` appends the lines.

use std::path::PathBuf;

use crate::config::ldirectord::{CheckType, Real, VirtualService};
use healthcheck::spec::host_string;

/// Where the check results of one real server of one virtual go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Monitor {
    pub path: PathBuf,
    /// The real's id as the file shows it (`log_id(real_id(..))`).
    pub id: String,
}

impl Monitor {
    /// The monitor of `real` in `vs`, if the virtual has a `monitorfile`.
    pub fn of(vs: &VirtualService, real: &Real) -> Option<Monitor> {
        vs.monitorfile.as_ref().map(|m| Monitor {
            path: m.path.clone(),
            id: log_id(&real_id(vs, real)),
        })
    }
}

/// ldirectord's `get_real_id_str`: `<check>:<protocol>:<rip>:<rport>:<virtualhost>:
/// <checkport>:<weight>:<method>:<request>:<receive>`, where `<check>` is
/// `negotiate:<service>`, `combined:<service>`, `external:<command>`,
/// `external-perl:<command>` or the checktype; the checkport only when set explicitly.
pub fn real_id(vs: &VirtualService, real: &Real) -> String {
    let check = match &vs.checktype {
        CheckType::Negotiate => format!("negotiate:{}", vs.service.name()),
        CheckType::Combined(_) => format!("combined:{}", vs.service.name()),
        CheckType::External { cmd } => format!("external:{}", cmd.display()),
        CheckType::ExternalPerl { cmd } => format!("external-perl:{}", cmd.display()),
        other => other.name().to_string(),
    };
    let (request, receive) = vs.request_for(real);
    format!(
        "{check}:{}:{}:{}:{}:{}:{}:{}:{request}:{receive}",
        vs.address.protocol().name(),
        host_string(real.addr),
        real.port,
        vs.virtualhost.as_deref().unwrap_or(""),
        vs.checkport.map(|p| p.to_string()).unwrap_or_default(),
        real.weight,
        real.method.as_str(),
    )
}

/// The id as written to the file: every run of `:` becomes one blank (Perl's `tr/:/ /s`) and
/// backslashes go (ldirectord quotes request and receive with `quotemeta`, then removes them).
pub fn log_id(real_id: &str) -> String {
    let mut out = String::with_capacity(real_id.len());
    let mut in_colons = false;
    for c in real_id.chars() {
        match c {
            ':' if in_colons => {}
            ':' => {
                in_colons = true;
                out.push(' ');
            }
            '\\' => in_colons = false,
            c => {
                in_colons = false;
                out.push(c);
            }
        }
    }
    out
}

/// `%`, `|`, CR and LF as `%25`, `%7c`, `%0d`, `%0a` (ldirectord's `sprintf("%%%.2x")`).
pub fn escape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '%' | '|' | '\r' | '\n' => out.push_str(&format!("%{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// One line of the file (with its newline). An empty message is written as `-`.
pub fn line(ctime: &str, pid: u32, id: &str, up: bool, message: &str) -> String {
    let state = if up { "up" } else { "down" };
    let message = if message.is_empty() {
        "-".to_string()
    } else {
        escape(message)
    };
    format!("[{ctime}] [{pid}] {id} [{state}] {message}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ldirectord::parse;
    use crate::config::{Services, StaticResolver};

    fn config(text: &str) -> crate::config::ldirectord::Config {
        let r = StaticResolver::new(Services::default()).with_hostname("director1");
        parse(text, "t.cf", &r).expect("parses").0
    }

    #[test]
    fn real_ids_as_ldirectord_builds_them() {
        let c = config(
            "virtual=192.0.2.132:80\n\treal=198.51.100.1:80 gate 2\n\
             \treal=198.51.100.2 masq \"x.html\",\"a|b\"\n\tservice=http\n\
             \trequest=\"index.html\"\n\treceive=\"Test Page\"\n\tvirtualhost=www.example.com\n\
             \tmonitorfile=/tmp/m.log\n\n\
             virtual=192.0.2.132:25\n\treal=198.51.100.1:25 gate\n\tchecktype=connect\n\
             \tcheckport=2525\n\n\
             virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:8080 masq\n\
             \tchecktype=external\n\tcheckcommand=/usr/local/bin/check\n\n\
             virtual=192.0.2.132:443\n\treal=198.51.100.1:443 gate\n\tchecktype=3\n",
        );
        let v = &c.virtuals;
        assert_eq!(
            real_id(&v[0], &v[0].reals[0]),
            "negotiate:http:tcp:198.51.100.1:80:www.example.com::2:gate:/index.html:Test Page"
        );
        assert_eq!(
            log_id(&real_id(&v[0], &v[0].reals[0])),
            "negotiate http tcp 198.51.100.1 80 www.example.com 2 gate /index.html Test Page"
        );
        assert_eq!(
            real_id(&v[0], &v[0].reals[1]),
            "negotiate:http:tcp:198.51.100.2:0:www.example.com::1:masq:/x.html:a|b"
        );
        assert_eq!(
            log_id(&real_id(&v[1], &v[1].reals[0])),
            "connect tcp 198.51.100.1 25 2525 1 gate / "
        );
        assert_eq!(
            log_id(&real_id(&v[2], &v[2].reals[0])),
            "external /usr/local/bin/check tcp [2001 db8 2] 8080 1 masq / "
        );
        assert_eq!(
            real_id(&v[3], &v[3].reals[0]),
            "combined:https:tcp:198.51.100.1:443:::1:gate:/:"
        );
        let m = Monitor::of(&v[0], &v[0].reals[0]).unwrap();
        assert_eq!(m.path, PathBuf::from("/tmp/m.log"));
        assert!(Monitor::of(&v[1], &v[1].reals[0]).is_none());
    }

    #[test]
    fn log_id_squeezes_colons_and_drops_backslashes() {
        assert_eq!(log_id("a::b:c"), "a b c");
        assert_eq!(log_id(r"x:\.\*:y"), "x .* y");
        // tr/:/ /s runs first, then the backslashes go: "a \\ b" -> "a  b"
        assert_eq!(log_id(r"a:\::b"), "a  b");
        assert_eq!(log_id("::"), " ");
    }

    #[test]
    fn lines_escape_the_message() {
        assert_eq!(
            line(
                "Wed Nov 25 01:40:34 2026",
                42,
                "connect tcp 192.0.2.1 80",
                true,
                "Success"
            ),
            "[Wed Nov 25 01:40:34 2026] [42] connect tcp 192.0.2.1 80 [up] Success\n"
        );
        assert_eq!(
            line("T", 1, "id", false, "50% a|b\r\nc"),
            "[T] [1] id [down] 50%25 a%7cb%0d%0ac\n"
        );
        assert_eq!(line("T", 1, "id", false, ""), "[T] [1] id [down] -\n");
        assert_eq!(
            line("T", 1, "id", false, "Server in maintenance"),
            "[T] [1] id [down] Server in maintenance\n"
        );
    }
}
