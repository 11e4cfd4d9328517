//! IPVS connection-sync datagrams (version 1, as a hand-over or the kernel's own), as the
//! director listening on the sync group reads them: decoding and assembling never panic, and
//! a message decoded and encoded again decodes to the same connections.
#![no_main]

use director::ipvs::sync::{decode, encode, Assembler, DEFAULT_MAXLEN};
use director::ipvs::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut asm = Assembler::default();
    let _ = asm.feed("192.0.2.11".parse().unwrap(), data, 0u32);
    let Ok(msg) = decode(data) else {
        return;
    };
    let again = encode(&msg.conns, &Table::default(), msg.syncid, DEFAULT_MAXLEN);
    let back: Vec<_> = again
        .iter()
        .flat_map(|m| decode(m).expect("an encoded message decodes").conns)
        .collect();
    assert_eq!(back, msg.conns);
});
