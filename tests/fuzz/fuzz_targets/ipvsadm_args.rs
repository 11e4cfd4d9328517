//! ipvsadm command lines: the input is NUL-separated arguments, and after a double NUL the
//! standard input (for `-R`). `args::parse` never panics, nor does running the command
//! against an in-memory IPVS table (parse, checks, changes, listings, the `-R` reader).
#![no_main]

use director::cli::args;
use director::cli::{self, NoNames};
use director::ipvs::memory::MemoryIpvs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (argv_bytes, stdin) = match data.windows(2).position(|w| w == [0, 0]) {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut argv = vec!["ipvsadm".to_string()];
    argv.extend(
        argv_bytes
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned()),
    );
    let _ = args::parse(&argv, &NoNames);

    let mut ipvs = MemoryIpvs::new();
    let mut input = stdin;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut conn = || None;
    let mut io = cli::Io {
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
        conn: &mut conn,
        names: &NoNames,
    };
    let _ = cli::run(&argv, &mut ipvs, &mut io);
});
