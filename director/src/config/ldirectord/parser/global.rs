//! The global directives, one method each (`global_line` dispatches).

use std::path::PathBuf;

use super::super::model::LogTarget;
use super::directive::{is_block, is_global, SYSLOG_FACILITIES};
use super::line::Parser;
use super::raw::Val;

impl Parser<'_> {
    pub(super) fn global_line(&mut self, no: usize, name: &str, after_name: &str) {
        if name == "supervised" && after_name.trim().is_empty() {
            self.warn(
                no,
                "please update your config not to use a bare supervised directive",
            );
            self.globals.supervised = true;
            return;
        }
        if !is_global(name) {
            if is_block(name) {
                self.error(
                    no,
                    format!(
                        "`{name}` is only valid inside a virtual block (ldirectord: Unknown command)"
                    ),
                );
            } else {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
            return;
        }
        let Some(v) = self.value(no, name, after_name, true) else {
            return;
        };
        match name {
            "checktimeout" => self.global_checktimeout(&v),
            "negotiatetimeout" => self.global_negotiatetimeout(&v),
            "checkinterval" => self.global_checkinterval(&v),
            "checkcount" => self.global_checkcount(no, &v),
            "failurecount" => self.global_failurecount(&v),
            "connecttimeout" => self.global_connecttimeout(no),
            "timeout" => self.global_timeout(no),
            "fallback" | "fallback6" => self.global_fallback(name, &v),
            "fallbackcommand" => self.global_fallbackcommand(&v),
            "autoreload" => self.global_autoreload(&v),
            "fork" => self.global_fork(&v),
            "supervised" => self.global_supervised(&v),
            "quiescent" => self.global_quiescent(&v),
            "readdquiescent" => self.global_readdquiescent(&v),
            "cleanstop" => self.global_cleanstop(&v),
            "tlsverify" => self.global_tlsverify(&v),
            "callback" => self.global_callback(&v),
            "logfile" => self.global_logfile(no, &v),
            "execute" => self.global_execute(&v),
            "emailalert" => self.global_emailalert(&v),
            "emailalertfreq" => self.global_emailalertfreq(&v),
            "emailalertstatus" => self.global_emailalertstatus(&v),
            "emailalertfrom" => self.global_emailalertfrom(&v),
            "smtp" => self.global_smtp(&v),
            "maintenancedir" => self.global_maintenancedir(&v),
            _ => {
                let full = format!("{name}{after_name}");
                self.unknown(no, &full);
            }
        }
    }

    /// `checktimeout`.
    pub(super) fn global_checktimeout(&mut self, v: &Val) {
        self.globals.checktimeout = self.number(v, true, "check timeout value");
    }

    /// `negotiatetimeout`.
    pub(super) fn global_negotiatetimeout(&mut self, v: &Val) {
        self.globals.negotiatetimeout = self.number(v, true, "negotiate timeout value");
    }

    /// `checkinterval`.
    pub(super) fn global_checkinterval(&mut self, v: &Val) {
        if let Some(n) = self.number(v, true, "check interval value") {
            self.globals.checkinterval = n;
        }
    }

    /// `checkcount`.
    pub(super) fn global_checkcount(&mut self, no: usize, v: &Val) {
        if let Some(n) = self.number(v, true, "check count value") {
            self.globals.checkcount = n;
        }
        self.warn(
            no,
            "checkcount option is deprecated and slated for removal.  please see \
             'failurecount'",
        );
    }

    /// `failurecount`.
    pub(super) fn global_failurecount(&mut self, v: &Val) {
        if let Some(n) = self.number(v, true, "failure count value") {
            self.globals.failurecount = n;
        }
    }

    /// `connecttimeout`.
    pub(super) fn global_connecttimeout(&mut self, no: usize) {
        self.error(
            no,
            "connecttimeout directive deprecated in favour of negotiatetimeout",
        );
    }

    /// `timeout`.
    pub(super) fn global_timeout(&mut self, no: usize) {
        self.error(
            no,
            "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
        );
    }

    /// `fallback`, `fallback6`.
    pub(super) fn global_fallback(&mut self, name: &str, v: &Val) {
        self.comment_quirk(v);
        if let Some(f) = self.fallback(v) {
            if name == "fallback" {
                self.global_fallback = Some(f);
            } else {
                self.global_fallback6 = Some(f);
            }
        }
    }

    /// `fallbackcommand`.
    pub(super) fn global_fallbackcommand(&mut self, v: &Val) {
        self.comment_quirk(v);
        let c = v.clean.clone();
        self.globals.fallbackcommand = self.non_empty(v, c, "command");
    }

    /// `autoreload`.
    pub(super) fn global_autoreload(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.autoreload = b);
    }

    /// `fork`.
    pub(super) fn global_fork(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.fork = b);
    }

    /// `supervised`.
    pub(super) fn global_supervised(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.supervised = b);
    }

    /// `quiescent`.
    pub(super) fn global_quiescent(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.quiescent = b);
    }

    /// `readdquiescent`.
    pub(super) fn global_readdquiescent(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.readdquiescent = b);
    }

    /// `cleanstop`.
    pub(super) fn global_cleanstop(&mut self, v: &Val) {
        self.comment_quirk_exact(v, |p, b| p.globals.cleanstop = b);
    }

    /// `tlsverify`.
    pub(super) fn global_tlsverify(&mut self, v: &Val) {
        if let Some(t) = self.tlsverify(v) {
            self.globals.tlsverify = Some(t);
        }
    }

    /// `callback`.
    pub(super) fn global_callback(&mut self, v: &Val) {
        if let Some(c) = self.quoted(v) {
            self.globals.callback = Some(c);
        }
    }

    /// `logfile`.
    pub(super) fn global_logfile(&mut self, no: usize, v: &Val) {
        if let Some(l) = self.quoted(v) {
            if l.starts_with('/') {
                self.globals.logfile = LogTarget::File(PathBuf::from(l));
                self.globals.logfile_line = Some(no);
            } else if SYSLOG_FACILITIES.contains(&l.as_str()) {
                self.globals.logfile = LogTarget::Syslog(l);
                self.globals.logfile_line = Some(no);
            } else {
                self.error(
                    no,
                    format!("logfile `{l}` is neither an absolute path nor a syslog facility"),
                );
            }
        }
    }

    /// `execute`.
    pub(super) fn global_execute(&mut self, v: &Val) {
        self.comment_quirk(v);
        let c = v.clean.clone();
        if let Some(e) = self.non_empty(v, c, "configuration") {
            if !self.globals.execute.contains(&e) {
                self.globals.execute.push(e);
            }
        }
    }

    /// `emailalert`.
    pub(super) fn global_emailalert(&mut self, v: &Val) {
        self.comment_quirk(v);
        if let Some(a) = self.emailalert(v) {
            self.globals.emailalert = a;
        }
    }

    /// `emailalertfreq`.
    pub(super) fn global_emailalertfreq(&mut self, v: &Val) {
        if let Some(n) = self.emailalertfreq(v) {
            self.globals.emailalertfreq = n;
        }
    }

    /// `emailalertstatus`.
    pub(super) fn global_emailalertstatus(&mut self, v: &Val) {
        if let Some(s) = self.emailalertstatus(v) {
            self.globals.emailalertstatus = s;
        }
    }

    /// `emailalertfrom`.
    pub(super) fn global_emailalertfrom(&mut self, v: &Val) {
        self.comment_quirk(v);
        let c = v.clean.clone();
        self.globals.emailalertfrom = self.non_empty(v, c, "email from address");
    }

    /// `smtp`.
    pub(super) fn global_smtp(&mut self, v: &Val) {
        self.globals.smtp = self.smtp(v);
    }

    /// `maintenancedir`.
    pub(super) fn global_maintenancedir(&mut self, v: &Val) {
        self.comment_quirk(v);
        let c = v.clean.clone();
        self.globals.maintenancedir = self
            .non_empty(v, c, "maintenance directory")
            .map(PathBuf::from);
    }
}
