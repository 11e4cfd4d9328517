//! ldirectord's e-mail alerts, the decisions (pure; time is a parameter): which change is
//! mailed, to whom, in which daemon state, and the "Inaccessible real server" reminders
//! (ldirectord.md 3, 7; its `ld_emailalert_send` and `ld_emailalert_resend`).
//!
//! - Every real server / fallback change that ldirectord mails about (`engine::Alerted`) is an
//!   [`Alerts::event`]: a mail if the virtual has recipients (`emailalert`) and the daemon's
//!   state is selected by `emailalertstatus`.
//! - A real taken out (quiesced or deleted) with `emailalertfreq` > 0 is remembered; every
//!   [`Alerts::resend`] (once per checkinterval, as ldirectord after each pass) mails
//!   `Inaccessible real server: <R> (<V>)` again for those whose last mail is at least
//!   `emailalertfreq` seconds old. Any other change of that destination forgets it.
//!
//! The mails themselves are sent by `mail`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ldirectord::{Alert, AlertStatus};

/// The daemon's state, as ldirectord's `Daemon-Status:` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonStatus {
    /// From start until every real server has had its first check.
    Starting,
    Running,
    Stopping,
    /// From a reload until every new check has had its first result.
    Reloading,
}

impl DaemonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonStatus::Starting => "starting",
            DaemonStatus::Running => "running",
            DaemonStatus::Stopping => "stopping",
            DaemonStatus::Reloading => "reloading",
        }
    }

    /// Whether `emailalertstatus` selects this state.
    pub fn selected_by(self, s: &AlertStatus) -> bool {
        match self {
            DaemonStatus::Starting => s.starting,
            DaemonStatus::Running => s.running,
            DaemonStatus::Stopping => s.stopping,
            DaemonStatus::Reloading => s.reloading,
        }
    }
}

/// The alert settings of one virtual service and what its mails carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `<V>` of the virtual (as in log lines).
    pub name: String,
    pub alert: Alert,
    pub servicename: Option<String>,
    pub comment: Option<String>,
}

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    /// `emailalertfrom` (else the sender picks `<user>@<host>`).
    pub from: Option<String>,
    /// `smtp=`: the relay; `None`: the local sendmail.
    pub smtp: Option<String>,
    /// With `[servicename] ` in front when the virtual has one.
    pub subject: String,
    pub body: String,
    /// The subject as logged: `emailalert: <log_subject>` (without the service name).
    pub log_subject: String,
}

#[derive(Debug, Clone)]
struct Pending {
    settings: Settings,
    last: Instant,
}

/// The reminder state.
#[derive(Debug, Default, Clone)]
pub struct Alerts {
    /// By `<R> (<V>)`.
    pending: BTreeMap<String, Pending>,
}

impl Alerts {
    /// A change `subject` about destination `real` (`ip:port`) of the virtual with
    /// `settings`; `down` for a real server taken out. The mail to send, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        settings: &Settings,
        real: &str,
        subject: &str,
        down: bool,
        now: Instant,
        status: DaemonStatus,
        host: &str,
    ) -> Option<Mail> {
        let id = format!("{real} ({})", settings.name);
        if !down || settings.alert.freq == 0 {
            self.pending.remove(&id);
        } else {
            self.pending.insert(
                id,
                Pending {
                    settings: settings.clone(),
                    last: now,
                },
            );
        }
        mail(settings, subject, status, host)
    }

    /// The reminders due at `now` (each one's timer restarts).
    pub fn resend(&mut self, now: Instant, status: DaemonStatus, host: &str) -> Vec<Mail> {
        let due: Vec<(String, Settings)> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                now.saturating_duration_since(p.last)
                    >= Duration::from_secs(u64::from(p.settings.alert.freq))
            })
            .map(|(id, p)| (id.clone(), p.settings.clone()))
            .collect();
        let mut mails = Vec::new();
        for (id, settings) in due {
            if let Some(p) = self.pending.get_mut(&id) {
                p.last = now;
            }
            mails.extend(mail(
                &settings,
                &format!("Inaccessible real server: {id}"),
                status,
                host,
            ));
        }
        mails
    }

    /// After a reload: reminders follow the new settings of their virtual; those of a
    /// virtual that is gone, or whose `emailalertfreq` is now 0, are forgotten.
    pub fn reconfigure(&mut self, settings: &[Settings]) {
        self.pending.retain(
            |_, p| match settings.iter().find(|s| s.name == p.settings.name) {
                Some(s) if s.alert.freq > 0 => {
                    p.settings = s.clone();
                    true
                }
                _ => false,
            },
        );
    }

    /// How many reals are waiting for a reminder.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// The mail of `subject` for a virtual, if it has recipients and `status` is selected.
pub fn mail(settings: &Settings, subject: &str, status: DaemonStatus, host: &str) -> Option<Mail> {
    if settings.alert.to.is_empty() || !status.selected_by(&settings.alert.status) {
        return None;
    }
    let full = match &settings.servicename {
        Some(name) if !name.is_empty() => format!("[{name}] {subject}"),
        _ => subject.to_string(),
    };
    Some(Mail {
        to: settings.alert.to.clone(),
        from: settings.alert.from.clone(),
        smtp: settings.alert.smtp.clone(),
        body: body(
            host,
            &full,
            status,
            settings.servicename.as_deref(),
            settings.comment.as_deref(),
        ),
        subject: full,
        log_subject: subject.to_string(),
    })
}

/// ldirectord's mail body.
pub fn body(
    host: &str,
    subject: &str,
    status: DaemonStatus,
    servicename: Option<&str>,
    comment: Option<&str>,
) -> String {
    let mut text = format!(
        "ldirectord host: {host}\nLog-Message: {subject}\nDaemon-Status: {}\n",
        status.as_str()
    );
    let mut extra = String::new();
    if let Some(s) = servicename.filter(|s| !s.is_empty()) {
        extra.push_str(&format!("Service name: {s}\n"));
    }
    if let Some(c) = comment.filter(|c| !c.is_empty()) {
        extra.push_str(&format!("Comment: {c}\n"));
    }
    if !extra.is_empty() {
        text.push_str(&format!("\n{extra}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(freq: u32, status: AlertStatus) -> Settings {
        Settings {
            name: "192.0.2.132:80".into(),
            alert: Alert {
                to: vec!["ops@example.com".into(), "noc@example.com".into()],
                freq,
                status,
                from: None,
                smtp: None,
            },
            servicename: None,
            comment: None,
        }
    }

    const Q: &str = "Quiescent real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 0)";

    #[test]
    fn a_change_is_mailed_with_ldirectords_body() {
        let mut a = Alerts::default();
        let now = Instant::now();
        let s = settings(0, AlertStatus::ALL);
        let m = a
            .event(
                &s,
                "198.51.100.1:80",
                Q,
                true,
                now,
                DaemonStatus::Running,
                "lb1",
            )
            .unwrap();
        assert_eq!(m.subject, Q);
        assert_eq!(m.log_subject, Q);
        assert_eq!(m.to.len(), 2);
        assert_eq!(
            m.body,
            format!("ldirectord host: lb1\nLog-Message: {Q}\nDaemon-Status: running\n")
        );
        // freq 0: no reminders
        assert_eq!(a.pending(), 0);
        assert!(a
            .resend(
                now + Duration::from_secs(3600),
                DaemonStatus::Running,
                "lb1"
            )
            .is_empty());
    }

    #[test]
    fn servicename_and_comment() {
        let mut s = settings(0, AlertStatus::ALL);
        s.servicename = Some("web shop".into());
        s.comment = Some("front end".into());
        let m = mail(&s, Q, DaemonStatus::Starting, "lb1").unwrap();
        assert_eq!(m.subject, format!("[web shop] {Q}"));
        assert_eq!(m.log_subject, Q);
        assert_eq!(
            m.body,
            format!(
                "ldirectord host: lb1\nLog-Message: [web shop] {Q}\nDaemon-Status: starting\n\
                 \nService name: web shop\nComment: front end\n\n"
            )
        );
    }

    #[test]
    fn emailalertstatus_and_recipients_decide() {
        let only_running = AlertStatus {
            running: true,
            ..AlertStatus::NONE
        };
        let s = settings(0, only_running);
        assert!(mail(&s, Q, DaemonStatus::Running, "h").is_some());
        for st in [
            DaemonStatus::Starting,
            DaemonStatus::Stopping,
            DaemonStatus::Reloading,
        ] {
            assert!(mail(&s, Q, st, "h").is_none(), "{st:?}");
        }
        assert!(mail(
            &settings(0, AlertStatus::NONE),
            Q,
            DaemonStatus::Running,
            "h"
        )
        .is_none());
        let mut nobody = settings(0, AlertStatus::ALL);
        nobody.alert.to.clear();
        assert!(mail(&nobody, Q, DaemonStatus::Running, "h").is_none());
    }

    #[test]
    fn reminders_every_freq_seconds_until_the_real_returns() {
        let mut a = Alerts::default();
        let t0 = Instant::now();
        let s = settings(60, AlertStatus::ALL);
        let run = DaemonStatus::Running;
        a.event(&s, "198.51.100.1:80", Q, true, t0, run, "h");
        assert_eq!(a.pending(), 1);
        assert!(a.resend(t0 + Duration::from_secs(59), run, "h").is_empty());
        let r = a.resend(t0 + Duration::from_secs(60), run, "h");
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].subject,
            "Inaccessible real server: 198.51.100.1:80 (192.0.2.132:80)"
        );
        // the timer restarted
        assert!(a.resend(t0 + Duration::from_secs(100), run, "h").is_empty());
        assert_eq!(a.resend(t0 + Duration::from_secs(121), run, "h").len(), 1);
        // the state filter applies to reminders; the timer still restarts (ldirectord)
        let none = settings(60, AlertStatus::NONE);
        let mut b = Alerts::default();
        b.event(&none, "198.51.100.1:80", Q, true, t0, run, "h");
        assert!(b.resend(t0 + Duration::from_secs(60), run, "h").is_empty());
        assert_eq!(b.pending(), 1);
        // back up: forgotten
        let up = "Restored real server: 198.51.100.1:80 (192.0.2.132:80) (Weight set to 1)";
        let m = a.event(
            &s,
            "198.51.100.1:80",
            up,
            false,
            t0 + Duration::from_secs(130),
            run,
            "h",
        );
        assert_eq!(m.unwrap().subject, up);
        assert_eq!(a.pending(), 0);
        assert!(a.resend(t0 + Duration::from_secs(999), run, "h").is_empty());
    }

    #[test]
    fn reload_keeps_reminders_of_virtuals_that_remain() {
        let mut a = Alerts::default();
        let t0 = Instant::now();
        let s = settings(60, AlertStatus::ALL);
        a.event(
            &s,
            "198.51.100.1:80",
            Q,
            true,
            t0,
            DaemonStatus::Running,
            "h",
        );
        let mut other = s.clone();
        other.name = "192.0.2.133:80".into();
        a.event(
            &other,
            "198.51.100.9:80",
            Q,
            true,
            t0,
            DaemonStatus::Running,
            "h",
        );
        let mut faster = s.clone();
        faster.alert.freq = 10;
        a.reconfigure(std::slice::from_ref(&faster));
        assert_eq!(a.pending(), 1);
        assert_eq!(
            a.resend(t0 + Duration::from_secs(10), DaemonStatus::Running, "h")
                .len(),
            1
        );
        let mut off = s;
        off.alert.freq = 0;
        a.reconfigure(&[off]);
        assert_eq!(a.pending(), 0);
    }
}
