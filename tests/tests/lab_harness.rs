//! The lab VM harness itself (needs qemu; `--features lab`).
#![allow(clippy::disallowed_types)] // the VM, timed on the wall clock

use std::time::Duration;
use tests::lab::{default_director_bin, LabRun, Status};

fn write_script(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-harness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    path
}

#[test]
fn vm_has_ipvs_tools_and_director() {
    assert!(
        default_director_bin().is_file(),
        "build it first: cargo build --release -p director"
    );
    let outcome = LabRun::scenario("harness.sh")
        .env("EXPECT_DIRECTOR", "yes")
        .run()
        .expect("vm-run")
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.output.contains("== IPVS is per namespace"),
        "{}",
        outcome.output
    );
    assert!(
        outcome.output.contains("== director binary runs"),
        "{}",
        outcome.output
    );
}

#[test]
fn output_env_and_exit_status_come_back() {
    let script = write_script(
        "status.sh",
        "echo \"token $TOKEN\"\necho 'to stderr' >&2\nexit 7\n",
    );
    let outcome = LabRun::script(&script)
        .no_bin()
        .env("TOKEN", "it's \"quoted\" $HOME")
        .run()
        .expect("vm-run");
    assert_eq!(outcome.status, Status::Exited(7), "{}", outcome.log);
    assert_eq!(
        outcome.output, "token it's \"quoted\" $HOME\nto stderr\n",
        "{}",
        outcome.log
    );
}

#[test]
fn a_hung_vm_is_killed_at_the_timeout() {
    let script = write_script("hang.sh", "sleep 600\n");
    let started = std::time::Instant::now();
    let outcome = LabRun::script(&script)
        .no_bin()
        .timeout(Duration::from_secs(3))
        .run()
        .expect("vm-run");
    assert_eq!(outcome.status, Status::TimedOut, "{}", outcome.log);
    assert!(started.elapsed() < Duration::from_secs(60));
}
