//! Reads each streaming transport's framing into what a client acts on: events with their
//! id, gap signals, and the frame a server sends before it ends a response. A parser of
//! our own on purpose: the soak checks the wire as a browser client would read it.

use anyhow::Context;
use serde_json::Value;

/// One thing a subscriber was told.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Event {
        id: String,
        data: String,
    },
    Gap,
    /// The server ends the response (stream `reconnect`, iframe `timeout`).
    End,
}

/// Takes every complete SSE block from `buffer`; the open block, comments and heartbeats
/// carry no event and are skipped.
pub fn sse(buffer: &mut Vec<u8>, out: &mut Vec<Frame>) -> anyhow::Result<()> {
    take_units(buffer, b"\n\n", |block| {
        let (mut id, mut event, mut data) = (None, None, Vec::new());
        for line in block.split('\n') {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.to_owned()),
                "event" => event = Some(value.to_owned()),
                "data" => data.push(value),
                _ => {}
            }
        }
        Ok(match (event.as_deref(), id) {
            (Some("comet-gap"), _) => Some(Frame::Gap),
            (_, Some(id)) if !data.is_empty() => Some(Frame::Event { id, data: data.join("\n") }),
            _ => None,
        })
    })
    .map(|frames| out.extend(frames))
}

/// Takes every complete line of the streaming-XHR response; the padding is blank.
pub fn stream(buffer: &mut Vec<u8>, out: &mut Vec<Frame>) -> anyhow::Result<()> {
    take_units(buffer, b"\n", |line| {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let object: Value = serde_json::from_str(line).with_context(|| format!("stream line {line:?}"))?;
        Ok(match object["type"].as_str() {
            Some("event") => Some(event(&object)?),
            Some("gap") => Some(Frame::Gap),
            Some("reconnect") => Some(Frame::End),
            _ => None,
        })
    })
    .map(|frames| out.extend(frames))
}

/// Takes every complete `<script>parent.cb.method(args)</script>` chunk of the iframe page.
pub fn iframe(buffer: &mut Vec<u8>, out: &mut Vec<Frame>) -> anyhow::Result<()> {
    take_units(buffer, b"</script>", |chunk| {
        let Some((_, call)) = chunk.split_once("<script>") else { return Ok(None) };
        let (callee, args) = call.split_once('(').context("a script without a call")?;
        let args = args.trim_end().strip_suffix(')').context("an unclosed call")?;
        Ok(match callee.rsplit('.').next() {
            Some("showMsg") => Some(event(&serde_json::from_str(args).context("showMsg arguments")?)?),
            Some("gap") => Some(Frame::Gap),
            Some("timeout") => Some(Frame::End),
            _ => None,
        })
    })
    .map(|frames| out.extend(frames))
}

/// A long-poll answer: its events, whether a gap came first, and the cursor to poll next.
pub fn poll(body: &[u8]) -> anyhow::Result<(Vec<Frame>, String)> {
    let answer: Value = serde_json::from_slice(body).context("a poll answer that is not JSON")?;
    let mut frames = Vec::new();
    if answer["gap"] == true {
        frames.push(Frame::Gap);
    }
    for item in answer["events"].as_array().context("a poll answer without events")? {
        frames.push(event(item)?);
    }
    let cursor = answer["cursor"].as_str().context("a poll answer without cursor")?;
    Ok((frames, cursor.to_owned()))
}

fn event(object: &Value) -> anyhow::Result<Frame> {
    let text =
        |name: &str| object[name].as_str().map(str::to_owned).with_context(|| format!("an event without {name}"));
    Ok(Frame::Event { id: text("id")?, data: text("data")? })
}

/// Splits complete units ending in `end` off the front of `buffer` and reads each.
fn take_units(
    buffer: &mut Vec<u8>,
    end: &[u8],
    mut read: impl FnMut(&str) -> anyhow::Result<Option<Frame>>,
) -> anyhow::Result<Vec<Frame>> {
    let mut frames = Vec::new();
    let mut start = 0;
    while let Some(at) = buffer[start..].windows(end.len()).position(|w| w == end) {
        let unit = std::str::from_utf8(&buffer[start..start + at]).context("a frame that is not UTF-8")?;
        frames.extend(read(unit)?);
        start += at + end.len();
    }
    buffer.drain(..start);
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, data: &str) -> Frame {
        Frame::Event { id: id.into(), data: data.into() }
    }

    #[test]
    fn sse_blocks_split_across_reads() {
        let mut buffer =
            b"retry: 2000\nid: 1-0\n\n: heartbeat\n\nid: 1-1\ndata: a\ndata: b\n\nevent: comet-gap\nda".to_vec();
        let mut out = Vec::new();
        sse(&mut buffer, &mut out).unwrap();
        buffer.extend_from_slice(b"ta: {\"oldest\":\"1-4\"}\n\n");
        sse(&mut buffer, &mut out).unwrap();
        assert_eq!(out, [event("1-1", "a\nb"), Frame::Gap]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn stream_lines_after_the_padding() {
        let mut buffer = format!("{}\n{{\"type\":\"open\",\"cursor\":\"1-0\"}}\n", " ".repeat(2047)).into_bytes();
        buffer.extend_from_slice(
            b"{\"type\":\"event\",\"id\":\"1-1\",\"data\":\"x\\ny\"}\n{\"type\":\"reconnect\",\"cursor\":\"1-1\"}\n",
        );
        let mut out = Vec::new();
        stream(&mut buffer, &mut out).unwrap();
        assert_eq!(out, [event("1-1", "x\ny"), Frame::End]);
    }

    #[test]
    fn iframe_scripts_with_a_dotted_callback() {
        let mut buffer = b"<html><body>\n<!--   -->\n<script>parent.a.b.showMsg({\"id\":\"1-1\",\"data\":\"\\u003c/script\\u003e\"})</script>\n\
            <script>parent.a.b.heartbeat()</script>\n<script>parent.a.b.timeout(\"1-1\")</script>\n<scr"
            .to_vec();
        let mut out = Vec::new();
        iframe(&mut buffer, &mut out).unwrap();
        assert_eq!(out, [event("1-1", "</script>"), Frame::End]);
        assert_eq!(buffer, b"\n<scr");
    }

    #[test]
    fn poll_answers_with_a_gap() {
        let body = br#"{"events":[{"id":"1-3","data":"c"}],"cursor":"1-3","gap":true,"oldest":"1-3"}"#;
        let (frames, cursor) = poll(body).unwrap();
        assert_eq!(frames, [Frame::Gap, event("1-3", "c")]);
        assert_eq!(cursor, "1-3");
    }
}
