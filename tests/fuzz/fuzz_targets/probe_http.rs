//! An HTTP check's hop against arbitrary server bytes (hyper's response reader, the body
//! cap, redirects and the verdict): never panics, never hangs. The first byte picks GET or
//! HEAD, whether a `receive=` is set and whether the check has a page (status codes and a
//! digest, keepalived's url block).
#![no_main]

use healthcheck::page::{Page, PageDigest, StatusCodes};
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
        pages: if mode & 4 != 0 {
            vec![Page {
                path: "/check".to_string(),
                status: StatusCodes::parse("200-299 302").expect("valid codes"),
                digest: Some(PageDigest::of(b"ok")),
            }]
        } else {
            Vec::new()
        },
        ..Negotiate::default()
    };
    let url = Url::parse("http://192.0.2.1/check").expect("a valid URL");
    let answer = offline::http(server, &url, &params);
    assert!(
        answer.is_some(),
        "the http check hung on a closed connection"
    );
});
