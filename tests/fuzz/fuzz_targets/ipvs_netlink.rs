//! IPVS generic netlink payloads (`genlmsghdr` + attributes), as the kernel's replies reach
//! `IpvsClient`: parse never panics, nor do the model conversions; what parses emits and
//! parses back stably. Also the nlctrl family-id reply.
#![no_main]

use director::ipvs::msg::{parse_family_id, IpvsMessage};
use director::ipvs::Family;
use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{Emitable, ParseableParametrized};
use netlink_packet_generic::GenlMessage;

const FAMILY: u16 = 0x20;

fn parse(bytes: &[u8]) -> Option<GenlMessage<IpvsMessage>> {
    GenlMessage::<IpvsMessage>::parse_with_param(bytes, FAMILY).ok()
}

fn emit(msg: &GenlMessage<IpvsMessage>) -> Vec<u8> {
    let mut out = vec![0u8; msg.buffer_len()];
    msg.emit(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_family_id(data);
    let Some(msg) = parse(data) else {
        return;
    };
    let _ = msg.payload.service_entry();
    let _ = msg.payload.dest_entry(Family::V4);
    let _ = msg.payload.dest_entry(Family::V6);
    let _ = msg.payload.daemon();
    let _ = msg.payload.info();
    let _ = msg.payload.timeouts();
    // An unknown attribute with NLA_F_NET_BYTEORDER comes back without it (DefaultNla), so
    // stability is asked from the first re-emission on.
    let once = parse(&emit(&msg)).expect("an emitted message parses");
    let twice = parse(&emit(&once)).expect("an emitted message parses");
    assert_eq!(once.payload, twice.payload);
});
