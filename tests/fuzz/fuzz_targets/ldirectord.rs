//! An ldirectord file -> `Config` or every error, with a resolver that knows one host and
//! a few services: never panics, and a parsed file gives an IPVS table.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use director::config::ldirectord;
use director::config::{Services, StaticResolver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let resolver = StaticResolver::new(Services::parse(
        "http 80/tcp www\nhttps 443/tcp\ndomain 53/tcp\ndomain 53/udp\nsmtp 25/tcp\n",
    ))
    .with_host("www.example.com", IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)));
    if let Ok((config, _warnings)) = ldirectord::parse(&text, "ldirectord.cf", &resolver) {
        let _ = ldirectord::desired_table(&config);
    }
});
