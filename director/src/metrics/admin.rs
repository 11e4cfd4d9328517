//! The HTTP admin API on the metrics listener (`director.conf` `[admin]`, off by default):
//! what `director real ...` and `director status --json` do, for tools that speak HTTP.
//!
//! - `GET /admin/status`: the status as `director status --json` prints it;
//! - `POST /admin/real/drain | disable | enable | weight` with a JSON body
//!   `{"virtual": "tcp:192.0.2.132:80", "real": "198.51.100.1:80"}` (and `"timeout_s": 60`
//!   for drain, `"weight": 5` for weight).
//!
//! Every request carries `Authorization: Bearer TOKEN`, TOKEN being the content of
//! `[admin] token_file` (readable by its owner only, or the daemon does not start); a
//! missing or wrong token is answered 401 and nothing else. The answer is the control
//! socket's, as JSON: 200 when done, 400 for a request that cannot be read, 409 when the
//! daemon refused it (no such virtual or real server). [`decode`] and [`encode`] are pure;
//! the request goes to the daemon's control loop as a control socket request does.

use hyper::{Method, StatusCode};
use serde::Deserialize;

use crate::control::{RealOp, Request, Response};

/// The shortest token accepted.
pub const MIN_TOKEN: usize = 16;

/// The body of `POST /admin/real/...`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RealBody {
    #[serde(rename = "virtual")]
    virtual_name: String,
    real: String,
    timeout_s: Option<u64>,
    weight: Option<u32>,
}

/// Whether `authorization` (the header's value) carries `token`; compared in constant time.
fn authorized(authorization: Option<&str>, token: &str) -> bool {
    let Some(given) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The control request an admin request asks for, or the answer that refuses it.
pub fn decode(
    method: &Method,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
    token: &str,
) -> Result<Request, (StatusCode, String)> {
    if !authorized(authorization, token) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "the admin API needs Authorization: Bearer TOKEN ([admin] token_file)".into(),
        ));
    }
    let wrong_method = |allowed: &str| {
        Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} takes {allowed}"),
        ))
    };
    if path == "/admin/status" {
        return if method == Method::GET {
            Ok(Request::Status)
        } else {
            wrong_method("GET")
        };
    }
    let Some(op) = path.strip_prefix("/admin/real/") else {
        return Err((
            StatusCode::NOT_FOUND,
            "try /admin/status or /admin/real/{drain,disable,enable,weight}".into(),
        ));
    };
    if !matches!(op, "drain" | "disable" | "enable" | "weight") {
        return Err((
            StatusCode::NOT_FOUND,
            format!("no operation {op}: drain, disable, enable or weight"),
        ));
    }
    if method != Method::POST {
        return wrong_method("POST");
    }
    let body: RealBody = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad request body: {e}")))?;
    let bad = |m: &str| Err((StatusCode::BAD_REQUEST, m.to_string()));
    let op = match (op, body.timeout_s, body.weight) {
        ("drain", Some(0), _) => return bad("timeout_s 0 is a disable: use /admin/real/disable"),
        ("drain", t, None) => RealOp::Drain { timeout_s: t },
        ("disable", None, None) => RealOp::Disable,
        ("enable", None, None) => RealOp::Enable,
        ("weight", None, Some(w)) if i32::try_from(w).is_ok() => RealOp::Weight { weight: w },
        ("weight", None, Some(_)) => return bad("weight: a number from 0 to 2147483647"),
        ("weight", None, None) => return bad("weight needs \"weight\""),
        _ => return bad("timeout_s is for drain, weight for weight"),
    };
    Ok(Request::Real {
        op,
        virtual_name: body.virtual_name,
        real: body.real,
    })
}

/// The HTTP answer to the daemon's response: its JSON, 200 when done, 409 when refused.
pub fn encode(response: &Response) -> (StatusCode, String) {
    let status = match response {
        Response::Error { .. } => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    let mut text = serde_json::to_string(response).unwrap_or_default();
    text.push('\n');
    (status, text)
}

/// A refusal as JSON, in the control socket's shape.
pub fn refusal(message: String) -> String {
    let mut text = serde_json::to_string(&Response::Error { message }).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads the token of `[admin] token_file`: the file must be readable by its owner only
/// and hold at least [`MIN_TOKEN`] characters (surrounding white space ignored).
pub fn load_token(path: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e} ([admin] token_file)"))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{shown}: the admin token must be readable by its owner only (chmod 600)"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let token = text.trim();
    if token.len() < MIN_TOKEN || token.contains(char::is_whitespace) {
        return Err(format!(
            "{shown}: the admin token must be one word of at least {MIN_TOKEN} characters"
        ));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123";

    fn ask(
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: &str,
    ) -> Result<Request, StatusCode> {
        decode(&method, path, auth, body.as_bytes(), TOKEN).map_err(|(s, _)| s)
    }

    #[test]
    fn only_the_token_opens_the_api() {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(
            ask(Method::GET, "/admin/status", Some(&bearer), ""),
            Ok(Request::Status)
        );
        for auth in [
            None,
            Some(TOKEN),
            Some("Bearer "),
            Some("Bearer 0123456789abcdef012"),
            Some("Bearer 0123456789abcdef0124"),
            Some("Basic MDEyMzQ1Njc4OWFiY2RlZjAxMjM="),
        ] {
            assert_eq!(
                ask(Method::GET, "/admin/status", auth, ""),
                Err(StatusCode::UNAUTHORIZED),
                "{auth:?}"
            );
        }
        // unauthorized before anything else is looked at
        assert_eq!(
            ask(Method::PUT, "/admin/nope", None, "x"),
            Err(StatusCode::UNAUTHORIZED)
        );
    }

    #[test]
    fn real_operations_become_control_requests() {
        let b = format!("Bearer {TOKEN}");
        let a = Some(b.as_str());
        let body = r#"{"virtual":"tcp:192.0.2.132:80","real":"198.51.100.1:80"#;
        let req = |op| Request::Real {
            op,
            virtual_name: "tcp:192.0.2.132:80".into(),
            real: "198.51.100.1:80".into(),
        };
        assert_eq!(
            ask(
                Method::POST,
                "/admin/real/drain",
                a,
                &format!("{body}\",\"timeout_s\":60}}")
            ),
            Ok(req(RealOp::Drain {
                timeout_s: Some(60)
            }))
        );
        assert_eq!(
            ask(Method::POST, "/admin/real/drain", a, &format!("{body}\"}}")),
            Ok(req(RealOp::Drain { timeout_s: None }))
        );
        assert_eq!(
            ask(
                Method::POST,
                "/admin/real/disable",
                a,
                &format!("{body}\"}}")
            ),
            Ok(req(RealOp::Disable))
        );
        assert_eq!(
            ask(
                Method::POST,
                "/admin/real/enable",
                a,
                &format!("{body}\"}}")
            ),
            Ok(req(RealOp::Enable))
        );
        assert_eq!(
            ask(
                Method::POST,
                "/admin/real/weight",
                a,
                &format!("{body}\",\"weight\":5}}")
            ),
            Ok(req(RealOp::Weight { weight: 5 }))
        );
        for (path, extra) in [
            ("/admin/real/weight", ""),
            ("/admin/real/weight", ",\"weight\":4294967295"),
            ("/admin/real/drain", ",\"timeout_s\":0"),
            ("/admin/real/disable", ",\"weight\":3"),
            ("/admin/real/enable", ",\"colour\":3"),
        ] {
            assert_eq!(
                ask(Method::POST, path, a, &format!("{body}\"{extra}}}")),
                Err(StatusCode::BAD_REQUEST),
                "{path} {extra}"
            );
        }
        assert_eq!(
            ask(Method::POST, "/admin/real/drain", a, "{"),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            ask(Method::GET, "/admin/real/drain", a, ""),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            ask(Method::POST, "/admin/status", a, ""),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            ask(Method::POST, "/admin/real/melt", a, ""),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            ask(Method::GET, "/admin/", a, ""),
            Err(StatusCode::NOT_FOUND)
        );
    }

    #[test]
    fn answers_are_the_control_sockets_json() {
        let (s, text) = encode(&Response::Ok {
            message: "done".into(),
        });
        assert_eq!(
            (s, text.as_str()),
            (StatusCode::OK, "{\"result\":\"ok\",\"message\":\"done\"}\n")
        );
        let (s, _) = encode(&Response::Error {
            message: "no virtual service".into(),
        });
        assert_eq!(s, StatusCode::CONFLICT);
    }

    #[test]
    fn the_token_file_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("admin.token");
        assert!(load_token(&f).unwrap_err().contains("admin.token"));
        std::fs::write(&f, format!("{TOKEN}\n")).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_token(&f).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_token(&f).unwrap(), TOKEN);
        std::fs::write(&f, "short\n").unwrap();
        assert!(load_token(&f).unwrap_err().contains("at least 16"));
    }
}
