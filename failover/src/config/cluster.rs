//! Checks that span `ha.cf`, `haresources` and the local node name.

use std::path::Path;

use super::hacf::HaCf;
use super::haresources::Haresources;
use super::Diagnostic;

/// Most nodes director's resource protocol handles (haresources mode is a two-node design).
pub const MAX_NODES: usize = 2;

/// Cross-file checks (Heartbeat's, plus director's two-node limit): the local node is listed
/// in ha.cf, every haresources line names a listed node, and there are at most two nodes.
/// Returns the errors (empty when all is well).
pub fn check(
    hacf_file: &Path,
    hacf: &HaCf,
    haresources_file: &Path,
    haresources: &Haresources,
    local_node: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let local = local_node.to_lowercase();
    if !hacf.nodes.is_empty() && !hacf.nodes.contains(&local) {
        out.push(Diagnostic::error(
            hacf_file,
            0,
            format!(
                "this node's name [{local}] (uname -n, or /etc/ha.d/nodeinfo) is not listed in a \
                 node directive (nodes: {})",
                hacf.nodes.join(" ")
            ),
        ));
    }
    if hacf.nodes.len() > MAX_NODES {
        out.push(Diagnostic::error(
            hacf_file,
            0,
            format!(
                "{} nodes listed: director manages haresources groups between two nodes only",
                hacf.nodes.len()
            ),
        ));
    }
    for g in &haresources.groups {
        if !hacf.nodes.contains(&g.preferred) {
            out.push(Diagnostic::error(
                haresources_file,
                g.line,
                format!(
                    "node {} is not listed in ha.cf (node directives)",
                    g.preferred
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{hacf, haresources};

    #[test]
    fn cross_checks() {
        let cf = hacf::parse(
            Path::new("ha.cf"),
            "bcast eth0\nnode HA01 ha02\nauto_failback on\n",
        )
        .unwrap()
        .value;
        let hr = haresources::parse(Path::new("haresources"), "ha01 192.0.2.1\nha03 192.0.2.2\n")
            .unwrap()
            .value;
        let errs: Vec<String> = check(
            Path::new("ha.cf"),
            &cf,
            Path::new("haresources"),
            &hr,
            "HA01",
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            errs,
            vec!["haresources:2: node ha03 is not listed in ha.cf (node directives)"]
        );
        let errs = check(
            Path::new("ha.cf"),
            &cf,
            Path::new("haresources"),
            &hr,
            "other",
        );
        assert!(errs[0].to_string().contains("[other]"));
        let cf3 = hacf::parse(
            Path::new("ha.cf"),
            "bcast eth0\nnode a b c\nauto_failback on\n",
        )
        .unwrap()
        .value;
        assert!(check(
            Path::new("ha.cf"),
            &cf3,
            Path::new("h"),
            &Haresources::default(),
            "a"
        )[0]
        .message
        .contains("two nodes only"));
    }
}
