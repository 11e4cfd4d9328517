//! Sends the alert mails of `alert` with lettre: through the `smtp=` relay over plain SMTP on
//! port 25 when one is set (ldirectord's Net::SMTP), else through the local sendmail
//! (ldirectord's Mail::Send). Off the daemon's loop: a bounded queue, one mail at a time, each
//! bounded by a timeout; a failure is logged, never more.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::extension::ClientId;
use lettre::{
    Address, AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::lvs::alert::Mail;

/// How mails leave the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOptions {
    /// The sendmail program (used when no `smtp=` is set).
    pub sendmail: PathBuf,
    /// The relay's port (ldirectord: always 25).
    pub smtp_port: u16,
    /// Bound of one mail (connect to QUIT, or the sendmail run).
    pub timeout: Duration,
    /// This machine's name (`ldirectord host:`, HELO, the default sender's domain).
    pub host: String,
    /// The default sender's local part (the daemon's user).
    pub user: String,
}

impl Default for MailOptions {
    fn default() -> Self {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string());
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "root".to_string());
        MailOptions {
            sendmail: PathBuf::from("/usr/sbin/sendmail"),
            smtp_port: 25,
            timeout: Duration::from_secs(30),
            host,
            user,
        }
    }
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address {0:?}: {1}")]
    Address(String, String),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("sendmail: {0}")]
    Sendmail(#[from] lettre::transport::sendmail::Error),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// The message of `mail`: From `emailalertfrom` (else `<user>@<host>`), To the recipients,
/// the subject and ldirectord's body; the envelope sender is `<user>@<host>` as with
/// ldirectord's Net::SMTP.
pub fn message(mail: &Mail, opts: &MailOptions) -> Result<Message, MailError> {
    let default_from = format!("{}@{}", opts.user, opts.host);
    let from_text = mail.from.clone().unwrap_or_else(|| default_from.clone());
    let from: Mailbox = from_text
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Address(from_text, e.to_string()))?;
    let mut to = Mailboxes::new();
    let mut rcpt = Vec::new();
    for r in &mail.to {
        let mb: Mailbox = r.parse().map_err(|e: lettre::address::AddressError| {
            MailError::Address(r.clone(), e.to_string())
        })?;
        rcpt.push(mb.email.clone());
        to.push(mb);
    }
    let sender: Address = default_from.parse().unwrap_or_else(|_| from.email.clone());
    let envelope = lettre::address::Envelope::new(Some(sender), rcpt)
        .map_err(|e| MailError::Address(mail.to.join(", "), e.to_string()))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(mail.subject.clone())
        .envelope(envelope);
    for mb in to {
        builder = builder.to(mb);
    }
    Ok(builder.body(mail.body.clone())?)
}

/// Send one mail, bounded by `opts.timeout`.
pub async fn send(mail: &Mail, opts: &MailOptions) -> Result<(), MailError> {
    let msg = message(mail, opts)?;
    let work = async {
        match &mail.smtp {
            Some(relay) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay)
                    .port(opts.smtp_port)
                    .timeout(Some(opts.timeout))
                    .hello_name(ClientId::Domain(opts.host.clone()))
                    .build();
                transport.send(msg).await.map(drop).map_err(MailError::from)
            }
            None => AsyncSendmailTransport::<Tokio1Executor>::new_with_command(&opts.sendmail)
                .send(msg)
                .await
                .map_err(MailError::from),
        }
    };
    tokio::time::timeout(opts.timeout, work)
        .await
        .map_err(|_| MailError::Timeout(opts.timeout))?
}

/// The queue mails go through: at most `capacity` waiting (more are dropped and logged), sent
/// one after another. Dropping every sender ends the task once the queue is empty.
pub fn sender(opts: MailOptions, capacity: usize) -> (mpsc::Sender<Mail>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Mail>(capacity.max(1));
    let task = tokio::spawn(async move {
        while let Some(mail) = rx.recv().await {
            if let Err(e) = send(&mail, &opts).await {
                if mail.smtp.is_some() {
                    tracing::error!("failed to send SMTP email message: {e}");
                } else {
                    tracing::error!("failed to send email message: {e}");
                }
            }
        }
    });
    (tx, task)
}

/// Queue `mail` without waiting; a full queue drops it (logged).
pub fn queue(tx: &mpsc::Sender<Mail>, mail: Mail) {
    if let Err(e) = tx.try_send(mail) {
        let subject = match &e {
            mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => {
                m.subject.clone()
            }
        };
        tracing::error!("failed to send email message: the mail queue is full ({subject})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::PermissionsExt as _;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    fn opts() -> MailOptions {
        MailOptions {
            sendmail: PathBuf::from("/nonexistent/sendmail"),
            smtp_port: 25,
            timeout: Duration::from_secs(5),
            host: "lb1.example.com".into(),
            user: "root".into(),
        }
    }

    fn mail(smtp: Option<String>) -> Mail {
        Mail {
            to: vec!["ops@example.com".into(), "noc@example.com".into()],
            from: None,
            smtp,
            subject: "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)".into(),
            body: "ldirectord host: lb1.example.com\nLog-Message: Deleted real server: \
                   198.51.100.1:80 (192.0.2.132:80)\nDaemon-Status: running\n"
                .into(),
            log_subject: "Deleted real server: 198.51.100.1:80 (192.0.2.132:80)".into(),
        }
    }

    #[test]
    fn the_message_has_ldirectords_headers_and_envelope() {
        let m = message(&mail(None), &opts()).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("From: root@lb1.example.com\r\n"), "{text}");
        assert!(
            text.contains("To: ops@example.com, noc@example.com\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Deleted real server: 198.51.100.1:80 (192.0.2.132:80)\r\n"));
        assert!(text.contains("Daemon-Status: running"));
        assert_eq!(
            m.envelope().from().map(ToString::to_string).as_deref(),
            Some("root@lb1.example.com")
        );
        assert_eq!(m.envelope().to().len(), 2);
        let mut from = mail(None);
        from.from = Some("LVS <lvs@example.com>".into());
        let text = String::from_utf8(message(&from, &opts()).unwrap().formatted()).unwrap();
        assert!(text.contains("From: LVS <lvs@example.com>\r\n"), "{text}");
        let mut bad = mail(None);
        bad.to = vec!["not an address".into()];
        assert!(matches!(
            message(&bad, &opts()),
            Err(MailError::Address(..))
        ));
    }

    fn address() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9+-]{0,12}@[a-z]([a-z0-9-]{0,10}[a-z0-9])?\\.(com|org|example)"
    }

    proptest! {
        #[test]
        fn any_mail_is_built_or_refused_without_panicking(
            to in proptest::collection::vec(".{0,40}", 0..4),
            from in proptest::option::of(".{0,40}"),
            subject in ".{0,120}",
            body in ".{0,400}",
            host in ".{0,30}",
            user in ".{0,20}",
        ) {
            let mail = Mail { to, from, smtp: None, subject, body, log_subject: String::new() };
            let opts = MailOptions { host, user, ..opts() };
            if let Ok(m) = message(&mail, &opts) {
                let _ = m.formatted();
            }
        }

        #[test]
        fn valid_addresses_make_a_message(
            to in proptest::collection::vec(address(), 1..4),
            from in proptest::option::of(address()),
            subject in "[A-Za-z0-9:.()]( ?[A-Za-z0-9:.()]){0,40}",
            body in "[ -~]{0,60}",
        ) {
            let mail = Mail {
                to: to.clone(),
                from: from.clone(),
                smtp: None,
                subject: subject.clone(),
                body: body.clone(),
                log_subject: String::new(),
            };
            let m = message(&mail, &opts()).unwrap();
            prop_assert_eq!(m.envelope().to().len(), to.len());
            prop_assert_eq!(
                m.envelope().from().map(ToString::to_string),
                Some("root@lb1.example.com".to_string())
            );
            // A long header is folded (RFC 5322 2.2.3): read it unfolded.
            let text = String::from_utf8(m.formatted()).unwrap().replace("\r\n ", " ");
            let from_header = format!("From: {}\r\n", from.unwrap_or_else(|| "root@lb1.example.com".into()));
            prop_assert!(text.contains(&from_header), "{}", text);
            let subject_header = format!("Subject: {subject}\r\n");
            prop_assert!(text.contains(&subject_header), "{}", text);
            prop_assert!(text.contains(body.trim_end()), "{}", text);
        }
    }

    /// A loopback SMTP sink: answers every command, records the dialogue.
    async fn smtp_sink(mode: Sink) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut lines = BufReader::new(r).lines();
            let mut seen = Vec::new();
            if mode == Sink::Hang {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return seen;
            }
            w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            while let Ok(Ok(Some(line))) =
                tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
            {
                seen.push(line.clone());
                if in_data {
                    if line == "." {
                        in_data = false;
                        w.write_all(b"250 queued\r\n").await.unwrap();
                    }
                    continue;
                }
                let up = line.to_ascii_uppercase();
                let reply: &[u8] = if up.starts_with("EHLO") {
                    b"250 sink\r\n"
                } else if up.starts_with("RCPT") && mode == Sink::Refuse {
                    b"550 no such user\r\n"
                } else if up.starts_with("DATA") {
                    in_data = true;
                    b"354 go on\r\n"
                } else if up.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    break;
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Sink {
        Accept,
        Refuse,
        Hang,
    }

    #[tokio::test]
    async fn smtp_relay_gets_the_mail() {
        let (port, sink) = smtp_sink(Sink::Accept).await;
        let mut o = opts();
        o.smtp_port = port;
        send(&mail(Some("127.0.0.1".into())), &o).await.unwrap();
        let seen = sink.await.unwrap().join("\n");
        assert!(seen.contains("EHLO lb1.example.com"), "{seen}");
        assert!(seen.contains("MAIL FROM:<root@lb1.example.com>"), "{seen}");
        assert!(seen.contains("RCPT TO:<ops@example.com>"), "{seen}");
        assert!(seen.contains("RCPT TO:<noc@example.com>"), "{seen}");
        assert!(seen.contains("Log-Message: Deleted real server"), "{seen}");
    }

    #[tokio::test]
    async fn smtp_failures_are_errors_and_bounded() {
        let (port, _sink) = smtp_sink(Sink::Refuse).await;
        let mut o = opts();
        o.smtp_port = port;
        assert!(matches!(
            send(&mail(Some("127.0.0.1".into())), &o).await,
            Err(MailError::Smtp(_))
        ));
        // a relay that never answers: the timeout ends it
        let (port, _sink) = smtp_sink(Sink::Hang).await;
        o.smtp_port = port;
        o.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        assert!(send(&mail(Some("127.0.0.1".into())), &o).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        // nothing listens
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        o.smtp_port = l.local_addr().unwrap().port();
        drop(l);
        o.timeout = Duration::from_secs(5);
        assert!(send(&mail(Some("127.0.0.1".into())), &o).await.is_err());
    }

    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let p = dir.join("sendmail");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn sendmail_gets_the_envelope_and_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut o = opts();
        o.sendmail = script(
            dir.path(),
            &format!("echo \"$@\" > {0}; cat >> {0}", out.display()),
        );
        send(&mail(None), &o).await.unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.starts_with("-i -f root@lb1.example.com -- ops@example.com noc@example.com\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Deleted real server"), "{text}");
        assert!(text.contains("Daemon-Status: running"), "{text}");
        // a failing sendmail is an error, a hanging one is cut short
        o.sendmail = script(dir.path(), "cat >/dev/null; exit 75");
        assert!(send(&mail(None), &o).await.is_err());
        o.sendmail = script(dir.path(), "sleep 30");
        o.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        assert!(send(&mail(None), &o).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        o.sendmail = dir.path().join("missing");
        assert!(send(&mail(None), &o).await.is_err());
    }

    #[tokio::test]
    async fn the_queue_sends_in_order_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut o = opts();
        o.sendmail = script(
            dir.path(),
            &format!("grep '^Subject:' >> {}", out.display()),
        );
        let (tx, task) = sender(o, 2);
        for i in 0..3 {
            let mut m = mail(None);
            m.subject = format!("n{i}");
            queue(&tx, m);
        }
        drop(tx);
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        // capacity 2: the third was dropped at once rather than waited for
        assert!(
            text.starts_with("Subject: n0\r\nSubject: n1\r\n"),
            "{text:?}"
        );
        assert!(!text.contains("n2"), "{text:?}");
    }
}
