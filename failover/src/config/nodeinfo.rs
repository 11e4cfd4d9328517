//! The local node name, as Heartbeat determines it.
//!
//! Heartbeat uses `uname -n`, lower-cased, unless `/etc/ha.d/nodeinfo` exists and its first
//! line ends in a newline; then that line (lower-cased, trimmed) is the name
//! (`heartbeat.c:get_localnodeinfo`). Node names in `ha.cf` and `haresources` are lower-cased
//! too, so comparisons are case-insensitive in effect.

/// The local node name from `uname -n` (`uname`) and the contents of the nodeinfo file, if it
/// exists (`nodeinfo`). Returns `None` only when both give an empty name.
///
/// ```
/// use failover::config::nodeinfo::local_node_name;
/// assert_eq!(local_node_name("XD_Blog_Web_184_251", None).as_deref(), Some("xd_blog_web_184_251"));
/// assert_eq!(local_node_name("host", Some("ha01\n")).as_deref(), Some("ha01"));
/// // Without a terminating newline Heartbeat ignores the nodeinfo line.
/// assert_eq!(local_node_name("host", Some("ha01")).as_deref(), Some("host"));
/// ```
pub fn local_node_name(uname: &str, nodeinfo: Option<&str>) -> Option<String> {
    if let Some(text) = nodeinfo {
        if let Some((first, _)) = text.split_once('\n') {
            let name = first.trim();
            if !name.is_empty() {
                return Some(name.to_lowercase());
            }
        }
    }
    let name = uname.trim();
    if name.is_empty() {
        None
    } else {
        Some(name.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uname_is_lowercased() {
        assert_eq!(local_node_name("HA01\n", None).as_deref(), Some("ha01"));
        assert_eq!(local_node_name("", None), None);
    }

    #[test]
    fn nodeinfo_first_line_wins_when_newline_terminated() {
        assert_eq!(
            local_node_name("x", Some("Node-A\nsecond\n")).as_deref(),
            Some("node-a")
        );
        assert_eq!(local_node_name("x", Some("\n")).as_deref(), Some("x"));
        assert_eq!(local_node_name("", Some("")), None);
    }

    proptest! {
        #[test]
        fn never_panics(u in ".*", n in proptest::option::of(".*")) {
            let _ = local_node_name(&u, n.as_deref());
        }
    }
}
