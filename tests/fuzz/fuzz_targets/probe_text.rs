//! The small text judges of the line-protocol checks, on arbitrary bytes: ftp (download vs
//! `receive=`), nntp (greeting), sip (status line), simpletcp (a UDP line, and the TCP
//! answer read line by line), pop (APOP timestamp, CRAM-MD5 answer). Never panic or hang.
#![no_main]

use healthcheck::probe::{offline, Negotiate, Receive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let with_receive = Negotiate {
        receive: Some(Receive::compile("^OK|ready$").expect("a valid pattern")),
        ..Negotiate::default()
    };
    let plain = Negotiate::default();
    let _ = offline::ftp(data, true, &with_receive);
    let _ = offline::ftp(data, false, &plain);
    let _ = offline::nntp(data);
    let _ = offline::sip(data);
    for line in data.split_inclusive(|&b| b == b'\n') {
        let _ = offline::simpletcp_line(line, &with_receive);
    }
    if let Some(stamp) = offline::apop_timestamp(data) {
        assert!(stamp.starts_with(b"<") && stamp.ends_with(b">"));
    }
    let _ = offline::cram_md5(data, "probe", "secret");
    assert!(
        offline::simpletcp(data, &with_receive).is_some(),
        "the simpletcp check hung on a closed connection"
    );
});
