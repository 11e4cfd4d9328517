//! A panic anywhere in the daemon (a health check's protocol crate meeting a malformed answer,
//! say) is written to the daemon's log like any other error, not only to stderr. Its own test
//! binary: the panic hook and the tracing subscriber are process-wide.

use director::config::ldirectord::LogTarget;
use director::logging::Target;

#[test]
fn a_panic_goes_to_the_configured_logfile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ldirectord.log");
    let log = director::app::init_tracing();
    log.set_stderr(false);
    log.set_target(Some(Target {
        target: LogTarget::File(path.clone()),
        cfgname: "www.cf".into(),
        supervised: false,
    }));
    let joined = std::thread::Builder::new()
        .name("checks".into())
        .spawn(|| panic!("malformed answer from 198.51.100.7"))
        .unwrap()
        .join();
    assert!(joined.is_err());
    log.set_target(None);
    let text = std::fs::read_to_string(&path).unwrap();
    // The default hook again, so a failing assertion below is printed as usual.
    let _ = std::panic::take_hook();
    log.set_stderr(true);
    // One line (a backtrace follows it when RUST_BACKTRACE asks for one).
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("|www.cf|")
            && first.contains(
                "] internal error: thread 'checks' panicked at director/tests/panic_log.rs:"
            )
            && first.ends_with(": malformed answer from 198.51.100.7"),
        "{text}"
    );
}
