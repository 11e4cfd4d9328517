//! An HTTP check's hop against arbitrary server bytes (hyper's response reader, the body
//! cap, redirects and the verdict): never panics, never hangs. The first byte picks GET or
//! HEAD and whether a `receive=` is set.
#![no_main]

use healthcheck::probe::{offline, HttpMethod, Negotiate, Receive};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, server)) = data.split_first() else {
        return;
    };
    let params = Negotiate {
        http_method: if mode & 1 == 0 {
            HttpMethod::Get
        } else {
            HttpMethod::Head
        },
        receive: (mode & 2 != 0).then(|| Receive::compile("ok").expect("a valid pattern")),
        ..Negotiate::default()
    };
    let url = Url::parse("http://192.0.2.1/check").expect("a valid URL");
    let answer = offline::http(server, &url, &params);
    assert!(
        answer.is_some(),
        "the http check hung on a closed connection"
    );
});
