//! The operator's record (`director real ...`): the state file and the peer's copy
//! (`Record::parse`): what parses emits and parses back the same; and the admin API's
//! request decoding (`metrics::admin::decode`) on any path and body never panics.
#![no_main]

use director::lvs::operator::Record;
use director::metrics::admin;
use libfuzzer_sys::fuzz_target;

const TOKEN: &str = "0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(record) = Record::parse(&text) {
        assert_eq!(Record::parse(&record.emit()).as_ref(), Ok(&record));
    }
    let (path, body) = text.split_once('\n').unwrap_or((&text, ""));
    let bearer = format!("Bearer {TOKEN}");
    for method in [hyper::Method::GET, hyper::Method::POST] {
        let _ = admin::decode(&method, path, Some(&bearer), body.as_bytes(), TOKEN);
    }
});
