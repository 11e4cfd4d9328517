//! global_defs: its mail settings, put into the ldirectord files of the alerting virtuals.

use super::super::model::LdFile;
use super::super::parse::{Loc, Stmt};
use super::ctx::{plain, Ctx};

/// global_defs' mail settings (keepalived mails only where `smtp_alert` is on).
#[derive(Default)]
pub(super) struct Mail {
    pub(super) to: Vec<String>,
    pub(super) from: Option<String>,
    pub(super) server: Option<String>,
    /// A port of smtp_server other than 25.
    pub(super) port: Option<(Loc, String)>,
    /// `smtp_alert`, `smtp_alert_checker` of global_defs.
    pub(super) alert: Option<bool>,
    pub(super) checker_alert: Option<bool>,
    /// Every mail statement, for a note when no mail is sent.
    pub(super) stmts: Vec<(Loc, String)>,
}

/// `smtp_alert` / `smtp_alert_checker`: bare means on.
pub(super) fn flag(c: &Stmt) -> bool {
    !matches!(c.args(), [v] if matches!(v.as_str(), "false" | "no" | "off" | "0"))
}

/// Puts the mail settings into the ldirectord files (`emailalert` per alerting virtual,
/// `emailalertfrom`, `smtp`), or says why they are unused.
pub(super) fn mail_settings(cx: &mut Ctx<'_>, mail: &Mail, alerting: bool, files: &mut [LdFile]) {
    if !alerting || mail.to.is_empty() {
        let why = if alerting {
            "no notification_email: keepalived sends no mail either"
        } else {
            "no virtual_server has smtp_alert on: keepalived sends no checker mail either"
        };
        for (loc, what) in &mail.stmts {
            cx.note(*loc, format!("{what}: {why}"));
        }
        for f in files.iter_mut() {
            for v in &mut f.virtuals {
                v.alert = false;
            }
        }
        return;
    }
    if let Some((loc, port)) = &mail.port {
        cx.not_carried(
            *loc,
            format!("port {port} of smtp_server: ldirectord's smtp= is a host (port 25)"),
        );
    }
    for f in files.iter_mut() {
        if f.virtuals.iter().any(|v| v.alert) {
            f.emailalert = mail.to.clone();
            f.emailalertfrom = mail.from.clone();
            f.smtp = mail.server.clone();
        }
    }
}

pub(super) fn global_defs(cx: &mut Ctx<'_>, s: &Stmt, mail: &mut Mail) {
    for c in s.children() {
        let what = c.words.join(" ");
        match c.key() {
            "router_id" => cx.note(
                c.loc,
                "router_id is not needed: Heartbeat names nodes by uname -n (ha.cf's node lines)",
            ),
            "notification_email" => {
                mail.to
                    .extend(c.children().iter().map(|m| m.key().to_string()));
                mail.stmts.push((c.loc, "notification_email".into()));
            }
            "notification_email_from" => {
                mail.from = cx.word(c).map(str::to_string);
                mail.stmts.push((c.loc, what));
            }
            "smtp_server" => {
                match c.args() {
                    [host] if !plain(host) => {
                        cx.error(c.loc, format!("smtp_server: invalid host {host:?}"))
                    }
                    [host] => mail.server = Some(host.clone()),
                    [host, _] if !plain(host) => {
                        cx.error(c.loc, format!("smtp_server: invalid host {host:?}"))
                    }
                    [host, port] => {
                        mail.server = Some(host.clone());
                        if port != "25" {
                            mail.port = Some((c.loc, port.clone()));
                        }
                    }
                    _ => cx.error(c.loc, "smtp_server takes a host and a port"),
                }
                mail.stmts.push((c.loc, what));
            }
            "smtp_connect_timeout" | "smtp_helo_name" => mail.stmts.push((c.loc, what)),
            "smtp_alert" => {
                mail.alert = Some(flag(c));
                mail.stmts.push((c.loc, what));
            }
            "smtp_alert_checker" => {
                mail.checker_alert = Some(flag(c));
                mail.stmts.push((c.loc, what));
            }
            _ => cx.unsupported(c, "global_defs", ""),
        }
    }
}
