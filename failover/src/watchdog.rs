//! ha.cf's `watchdog DEVICE`: the kernel watchdog (`/dev/watchdog`, e.g. `modprobe softdog`)
//! resets the machine when the heartbeat loop stops writing to it, as Heartbeat's does.
//!
//! - [`Watchdog::open`] opens the device when the node starts; on a character device the
//!   timeout is set to ceil((deadtime + 10 ms) / 1 s) seconds (`WDIOC_SETTIMEOUT`), so a hung
//!   node resets about when its peer declares it dead;
//! - [`Watchdog::tickle`] writes one byte; the heartbeat loop calls it each time it sends a
//!   heartbeat (every keepalive), from its own thread;
//! - [`Watchdog::close`] writes the magic `V` before closing, on a clean stop only: after a
//!   crash, a hang or self-fencing the device is left armed and resets the machine.
//!
//! The `ioctl` is the only `unsafe` here ([`set_timeout`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The open device.
#[derive(Debug)]
pub struct Watchdog {
    path: PathBuf,
    file: File,
    failed: bool,
}

/// The timeout Heartbeat sets: ceil((deadtime + 10 ms) / 1 s) seconds, at least 1.
pub fn timeout_secs(deadtime: Duration) -> u32 {
    let ms = deadtime.as_millis().saturating_add(10);
    u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX).max(1)
}

impl Watchdog {
    /// Opens `path` for writing. On a character device the timeout is set from `deadtime`
    /// (a driver that refuses keeps its own timeout, with a warning).
    pub fn open(path: &Path, deadtime: Duration) -> std::io::Result<Watchdog> {
        use std::os::unix::fs::FileTypeExt;
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        if file.metadata()?.file_type().is_char_device() {
            let secs = timeout_secs(deadtime);
            match set_timeout(&file, secs) {
                Ok(got) => tracing::info!(
                    device = %path.display(),
                    "watchdog {} armed: timeout {got} s",
                    path.display()
                ),
                Err(e) => tracing::warn!(
                    device = %path.display(),
                    "cannot set the timeout of watchdog {} to {secs} s ({e}): it keeps the \
                     driver's own",
                    path.display()
                ),
            }
        }
        Ok(Watchdog {
            path: path.to_path_buf(),
            file,
            failed: false,
        })
    }

    /// The device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the device we are alive (one byte). A failing write is logged once.
    pub fn tickle(&mut self) {
        match self.file.write_all(b"\0") {
            Ok(()) => self.failed = false,
            Err(e) => {
                if !self.failed {
                    tracing::error!(
                        device = %self.path.display(),
                        "cannot write to watchdog {}: {e}",
                        self.path.display()
                    );
                }
                self.failed = true;
            }
        }
    }

    /// Clean stop: the magic `V` (the driver disarms), then close.
    pub fn close(mut self) {
        if let Err(e) = self.file.write_all(b"V") {
            tracing::error!(
                device = %self.path.display(),
                "cannot disarm watchdog {}: {e}",
                self.path.display()
            );
        }
    }
}

/// `WDIOC_SETTIMEOUT` (`linux/watchdog.h`: `_IOWR('W', 6, int)`); returns the timeout the
/// driver took.
#[allow(unsafe_code)]
fn set_timeout(file: &File, secs: u32) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);
    let mut value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    // SAFETY: the fd is open for the whole call (borrowed from `file`), and `value` is a
    // valid, initialised c_int that the kernel reads and overwrites; WDIOC_SETTIMEOUT takes
    // exactly a pointer to an int.
    unsafe { wdioc_settimeout(file.as_raw_fd(), &mut value) }.map_err(std::io::Error::from)?;
    Ok(u32::try_from(value).unwrap_or(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_timeout() {
        assert_eq!(timeout_secs(Duration::from_secs(30)), 31);
        assert_eq!(timeout_secs(Duration::from_millis(80)), 1);
        assert_eq!(timeout_secs(Duration::from_millis(990)), 1);
        assert_eq!(timeout_secs(Duration::from_millis(991)), 2);
        assert_eq!(timeout_secs(Duration::ZERO), 1);
    }

    #[test]
    fn a_regular_file_gets_one_byte_per_tickle_and_the_magic_close() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("watchdog");
        std::fs::write(&path, "").unwrap_or_else(|e| panic!("{e}"));
        let mut w = Watchdog::open(&path, Duration::from_secs(3)).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            w.tickle();
        }
        assert_eq!(std::fs::read(&path).ok(), Some(b"\0\0\0".to_vec()));
        w.close();
        assert_eq!(std::fs::read(&path).ok(), Some(b"\0\0\0V".to_vec()));
    }

    #[test]
    fn a_fifo_reader_sees_the_stream_and_end_of_file() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("wd.fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        let reader_path = path.clone();
        let reader = std::thread::spawn(move || {
            let mut f = File::open(&reader_path).unwrap_or_else(|e| panic!("{e}"));
            let mut got = Vec::new();
            let _ = f.read_to_end(&mut got);
            got
        });
        let mut w = Watchdog::open(&path, Duration::from_secs(3)).unwrap_or_else(|e| panic!("{e}"));
        w.tickle();
        w.tickle();
        w.close();
        assert_eq!(reader.join().ok(), Some(b"\0\0V".to_vec()));
    }

    #[test]
    fn a_missing_device_is_an_error() {
        assert!(
            Watchdog::open(Path::new("/nonexistent/watchdog"), Duration::from_secs(1)).is_err()
        );
    }
}
