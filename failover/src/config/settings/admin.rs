//! `[admin]`: director's HTTP admin API on the metrics listener (`director real ...` over
//! HTTP), off by default.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::duration::line_of;
use crate::config::Collector;

/// `[admin]`: `POST /admin/real/...` and `GET /admin/status` on the metrics listener, for
/// a client that sends the token of `token_file` (`Authorization: Bearer TOKEN`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admin {
    /// Whether the admin API is served (default: no).
    pub enabled: bool,
    /// The file holding the token (default: `admin.token` in the configuration directory);
    /// it must be readable by its owner only.
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    enabled: Option<bool>,
    token_file: Option<Spanned<String>>,
}

pub(super) fn admin_section(raw: RawAdmin, text: &str, c: &mut Collector) -> Admin {
    if let Some(v) = &raw.token_file {
        if !v.get_ref().starts_with('/') {
            c.error(
                line_of(text, v.span().start),
                format!(
                    "admin: token_file \"{}\" is not an absolute path",
                    v.get_ref()
                ),
            );
        }
    }
    Admin {
        enabled: raw.enabled.unwrap_or(false),
        token_file: raw.token_file.map(|v| PathBuf::from(v.into_inner())),
    }
}
