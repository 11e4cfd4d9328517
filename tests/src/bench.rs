//! What tests/bench/healthcheck.sh's programs (bench-httpd, bench-floor) share with the file it
//! writes, the address of the i-th real, and with each other, the reading of their arguments.

use std::net::Ipv4Addr;

/// The i-th real server of the benchmark: `127.(1 + i/62500).((i%62500)/250).(i%250 + 1)`, so
/// `127.1.(i/250).(i%250+1)` for the first 62,500 (the earlier runs' addresses) and
/// 127.2.x.y, 127.3.x.y... after them (all of 127/8 is loopback). mkconf in healthcheck.sh and
/// tests/bench/httpd.py use the same formula.
pub fn real_ip(i: u32) -> Ipv4Addr {
    let block = i / 62_500;
    let rest = i % 62_500;
    Ipv4Addr::new(
        127,
        u8::try_from(1 + block).unwrap_or(u8::MAX),
        (rest / 250) as u8,
        (rest % 250 + 1) as u8,
    )
}

/// How many reals [`real_ip`] can name (127.1 to 127.255).
pub const MAX_REALS: u32 = 255 * 62_500;

/// The command line of a benchmark program, read by `parse`; a mistake is printed on stderr as
/// `NAME: message` and becomes exit status 2.
pub fn args<T>(
    name: &str,
    parse: impl FnOnce(&[String]) -> Result<T, String>,
) -> Result<T, std::process::ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    parse(&args).map_err(|e| {
        eprintln!("{name}: {e}");
        std::process::ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn first_reals_keep_their_addresses() {
        assert_eq!(real_ip(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(real_ip(249), Ipv4Addr::new(127, 1, 0, 250));
        assert_eq!(real_ip(250), Ipv4Addr::new(127, 1, 1, 1));
        assert_eq!(real_ip(62_499), Ipv4Addr::new(127, 1, 249, 250));
        assert_eq!(real_ip(62_500), Ipv4Addr::new(127, 2, 0, 1));
        assert_eq!(real_ip(99_999), Ipv4Addr::new(127, 2, 149, 250));
    }

    #[test]
    fn addresses_are_distinct_loopback() {
        let all: HashSet<Ipv4Addr> = (0..200_000).map(real_ip).collect();
        assert_eq!(all.len(), 200_000);
        assert!(all.iter().all(|a| a.is_loopback() && a.octets()[3] != 0));
        assert!(real_ip(MAX_REALS - 1).is_loopback());
    }
}
