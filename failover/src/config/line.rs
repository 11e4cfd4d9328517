//! Line rules the Heartbeat files share.

/// Removes a `#` comment (anywhere on the line) and surrounding whitespace.
pub(crate) fn strip_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => line.get(..i).unwrap_or(line).trim(),
        None => line.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_stripped_anywhere() {
        assert_eq!(strip_comment("  node a#b c "), "node a");
        assert_eq!(strip_comment("# all"), "");
        assert_eq!(strip_comment(" keepalive 2 "), "keepalive 2");
    }
}
