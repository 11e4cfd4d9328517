//! ICMP echo replies as the ping check reads them, with and without an IPv4 header: never
//! panics, and the payload is what follows the 8-byte ICMP header.
#![no_main]

use healthcheck::probe::ping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(echo) = ping::parse(data, false) {
        assert_eq!(echo.payload.len(), data.len() - 8);
    }
    let _ = ping::parse(data, true);
    let _ = ping::checksum(data);
});
