//! Payloads that break naive framings, and what an EventSource makes of them.

/// Data that each framing must carry unchanged: line breaks of every kind, markup that
/// could end a script or open a comment, line separators JavaScript once treated as line
/// ends, text that looks like SSE fields or our own JSON, NUL, emoji, and a large body.
pub fn tricky() -> Vec<String> {
    vec![
        "plain".into(),
        "line one\nline two".into(),
        "crlf\r\nline\r\n".into(),
        "lone cr\rhere".into(),
        "\n\nleading and trailing newlines\n\n".into(),
        " leading space".into(),
        String::new(),
        "sep\u{2028}par\u{2029}end".into(),
        "</script><script>window.pwned=1</script>".into(),
        "<!-- <script> &amp; &lt;".into(),
        "data: fake\n\nid: 1-1\nevent: comet-gap\n\n".into(),
        "{\"type\":\"reconnect\",\"cursor\":\"1-1\"}".into(),
        ")</script>\nparent.comet.timeout(\"x\")".into(),
        "emoji 🚀 👩‍💻 é ß 中文".into(),
        "nul\0byte".into(),
        "tab\tand \\ backslash \" quote".into(),
        "x".repeat(60 * 1024),
    ]
}

/// What an EventSource reports for `data`: the line format cannot carry CR or CRLF, so
/// each becomes LF (documented in docs/PROTOCOL.md).
pub fn as_sse_delivers(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}
