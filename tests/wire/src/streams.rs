//! The streaming framings, read as their bytes arrive: SSE blocks, streaming-XHR lines and
//! the hidden iframe's `<script>` calls.

use anyhow::{Context, bail, ensure};
use serde_json::Value;

use super::{Frame, Received, Transport, end, gap, received, text};

/// Bytes of the streaming-XHR padding line, its newline included.
const STREAM_PADDING: usize = 2048;
/// Fewest bytes of the iframe page before its first script.
const IFRAME_PRELUDE: usize = 1024;
/// What follows the iframe's last script.
const IFRAME_TAIL: &[u8] = b"</body></html>\n";

/// Reads one streaming response. Give it every byte in order with [`Reader::push`], and
/// call [`Reader::end`] when the body ends.
pub struct Reader {
    transport: Transport,
    callback: String,
    /// Iframe: the origin its scripts must post to, when they post.
    post_to: Option<String>,
    buffer: Vec<u8>,
    /// SSE: the last id seen, which an EventSource keeps from block to block.
    last_id: Option<String>,
    /// Whether a unit was read: padding and prelude may only come first.
    started: bool,
    /// Whether the connection follows several channels.
    multi: bool,
}

impl Reader {
    /// A reader of `transport`'s framing; the iframe's callback is `comet` unless
    /// [`Reader::with_callback`] names another.
    pub fn new(transport: Transport) -> Self {
        let callback = "comet".to_owned();
        Reader { transport, callback, post_to: None, buffer: Vec::new(), last_id: None, started: false, multi: false }
    }

    /// Expects the framing of a connection that follows several channels: every event and
    /// gap names its channel (SSE: the event's JSON object as its data).
    pub fn multi(mut self) -> Self {
        self.multi = true;
        self
    }

    /// Reads one whole answer of a polled transport (long-poll, or JSONP with this reader's
    /// callback): its frames and the next poll's cursor.
    pub fn answer(&self, body: &[u8]) -> anyhow::Result<(Vec<Frame>, String)> {
        match self.transport {
            Transport::Poll => super::answer(body, self.multi),
            Transport::Jsonp => super::jsonp_answer(body, &self.callback, self.multi),
            _ => bail!("a streaming response is read as it arrives, with Reader::push"),
        }
    }

    /// Expects the iframe's scripts to call `parent.<callback>`.
    pub fn with_callback(mut self, callback: &str) -> Self {
        callback.clone_into(&mut self.callback);
        self
    }

    /// Expects the iframe's scripts to deliver with `parent.postMessage` to exactly `origin`.
    pub fn posting_to(mut self, origin: &str) -> Self {
        self.post_to = Some(origin.to_owned());
        self
    }

    /// Takes the next bytes of the body and returns every frame they complete.
    pub fn push(&mut self, bytes: &[u8]) -> anyhow::Result<Vec<Frame>> {
        self.buffer.extend_from_slice(bytes);
        let delimiter: &[u8] = match self.transport {
            Transport::Sse => b"\n\n",
            Transport::Stream => b"\n",
            Transport::Iframe => b"</script>\n",
            Transport::Poll | Transport::Jsonp => {
                bail!("a polled answer is read whole, with wire::poll or wire::jsonp")
            }
        };
        let mut frames = Vec::new();
        while let Some(at) = self.buffer.windows(delimiter.len()).position(|w| w == delimiter) {
            let unit: Vec<u8> = self.buffer.drain(..at + delimiter.len()).collect();
            let unit = String::from_utf8(unit).context("a frame that is not UTF-8")?;
            frames.extend(self.read(&unit[..at])?);
            self.started = true;
        }
        Ok(frames)
    }

    /// The close the end of the body means: SSE resumes from the last id seen, the others
    /// from their last `reconnect` or `timeout` frame. A body cut inside a frame is an error.
    pub fn end(&mut self) -> anyhow::Result<Frame> {
        let rest = std::mem::take(&mut self.buffer);
        let tail_allowed = self.transport == Transport::Iframe && rest == IFRAME_TAIL;
        ensure!(rest.is_empty() || tail_allowed, "the body ended inside a frame: {:?}", String::from_utf8_lossy(&rest));
        Ok(Frame::Close(if self.transport == Transport::Sse { self.last_id.clone() } else { None }))
    }

    fn read(&mut self, unit: &str) -> anyhow::Result<Option<Frame>> {
        match self.transport {
            Transport::Sse => self.sse_block(unit).map(Some),
            Transport::Stream => self.stream_line(unit),
            _ => self.script(unit).map(Some),
        }
    }

    /// One SSE block: the open block (`retry` and `id`), a heartbeat comment, a gap or an
    /// event.
    fn sse_block(&mut self, block: &str) -> anyhow::Result<Frame> {
        let (mut id, mut event, mut data, mut retry) = (None, None, Vec::new(), false);
        for line in block.split('\n') {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "" => return Ok(Frame::Heartbeat),
                "id" => id = Some(value.to_owned()),
                "event" => event = Some(value.to_owned()),
                "data" => data.push(value),
                "retry" => retry = true,
                other => bail!("unknown SSE field {other:?}"),
            }
        }
        if let Some(id) = &id {
            self.last_id = Some(id.clone());
        }
        if retry {
            return id.map(Frame::Open).context("an open block without id");
        }
        let data = data.join("\n");
        let signal = || serde_json::from_str::<Value>(&data).with_context(|| format!("signal data {data:?}"));
        match event.as_deref() {
            Some("comet-gap") => {
                ensure!(id.is_none(), "a gap signal moved the cursor");
                return gap(&signal()?, self.multi);
            }
            Some("comet-end") => {
                let channel = text(&signal()?, "channel")?;
                return Ok(Frame::End { channel, id: Some(id.context("an end without id")?) });
            }
            _ => {}
        }
        let id = id.context("an event without id")?;
        let event = event.unwrap_or_else(|| "message".to_owned());
        if !self.multi {
            return Ok(Frame::Event(Received { id, event, data, channel: None }));
        }
        let received = received(&signal()?, true)?;
        ensure!(received.id == id && received.event == event, "an event whose fields disagree: {id} {event} {data}");
        Ok(Frame::Event(received))
    }

    /// One streaming-XHR line; the padding line (first only) is no frame.
    fn stream_line(&mut self, line: &str) -> anyhow::Result<Option<Frame>> {
        if line.bytes().all(|b| b == b' ') {
            ensure!(!self.started && line.len() + 1 == STREAM_PADDING, "padding of {} bytes", line.len() + 1);
            return Ok(None);
        }
        let object: Value = serde_json::from_str(line).with_context(|| format!("stream line {line:?}"))?;
        Ok(Some(match object["type"].as_str() {
            Some("open") => Frame::Open(text(&object, "cursor")?),
            Some("event") => Frame::Event(received(&object, self.multi)?),
            Some("gap") => gap(&object, self.multi)?,
            Some("end") => end(&object)?,
            Some("heartbeat") => Frame::Heartbeat,
            Some("reconnect") => Frame::Close(Some(text(&object, "cursor")?)),
            _ => bail!("unknown stream line {line}"),
        }))
    }

    /// One `<script>parent.<callback>.<method>(<args>)</script>` call; the page's head and
    /// padding come before the first.
    fn script(&mut self, unit: &str) -> anyhow::Result<Frame> {
        let (prelude, script) = unit.split_once("<script>").context("a unit without a script")?;
        if self.started {
            ensure!(prelude.is_empty(), "text between scripts: {prelude:?}");
        } else {
            ensure!(prelude.contains("<!--") && prelude.len() > IFRAME_PRELUDE, "an iframe prelude under 1 KiB");
        }
        let (method, args) = match &self.post_to {
            None => self.called(script)?,
            Some(origin) => self.posted(script, origin)?,
        };
        let (method, args) = (method.as_str(), args.as_str());
        let json = || serde_json::from_str::<Value>(args).with_context(|| format!("{method} arguments"));
        Ok(match method {
            "showMsg" => Frame::Event(received(&json()?, self.multi)?),
            "gap" => gap(&json()?, self.multi)?,
            "end" => end(&json()?)?,
            "heartbeat" if args.is_empty() => Frame::Heartbeat,
            "timeout" => Frame::Close(Some(json()?.as_str().context("a timeout without cursor")?.to_owned())),
            _ => bail!("unknown call {method}({args})"),
        })
    }
}

impl Reader {
    /// `parent.<callback>.<method>(<args>)`: the method and the text of its arguments.
    fn called(&self, script: &str) -> anyhow::Result<(String, String)> {
        let call = script.strip_prefix("parent.").and_then(|call| call.strip_prefix(self.callback.as_str()));
        let call = call.and_then(|call| call.strip_prefix('.')).with_context(|| format!("not a callback: {script}"))?;
        let (method, args) = call.strip_suffix(')').and_then(|call| call.split_once('(')).context("not a call")?;
        Ok((method.to_owned(), args.to_owned()))
    }

    /// `parent.postMessage("<message>",<origin>)`, the message a JSON string (old IE posts
    /// only strings) of `{"comet":<callback>,"method":<method>,"args":[<arg>]}`, posted to
    /// exactly `origin`: the method and the text of its argument.
    fn posted(&self, script: &str, origin: &str) -> anyhow::Result<(String, String)> {
        let call = script.strip_prefix("parent.postMessage(").and_then(|call| call.strip_suffix(')'));
        let (message, target) =
            call.and_then(|call| call.rsplit_once(',')).with_context(|| format!("not a post: {script}"))?;
        ensure!(serde_json::from_str::<String>(target)? == origin, "posted to {target}, not {origin}");
        let message: String = serde_json::from_str(message).context("a posted message that is not a string")?;
        let message: Value = serde_json::from_str(&message).context("a posted message that is not JSON")?;
        ensure!(message["comet"] == self.callback.as_str(), "posted for {}", message["comet"]);
        let method = message["method"].as_str().context("a posted message without method")?;
        let args = message["args"].as_array().context("a posted message without args")?;
        Ok((method.to_owned(), args.first().map(Value::to_string).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, data: &str) -> Frame {
        Frame::Event(Received { id: id.into(), event: "message".into(), data: data.into(), channel: None })
    }

    fn read_all(reader: &mut Reader, parts: &[&[u8]]) -> Vec<Frame> {
        parts.iter().flat_map(|part| reader.push(part).unwrap()).collect()
    }

    #[test]
    fn sse_blocks_split_across_reads_and_the_last_id_closes() {
        let mut reader = Reader::new(Transport::Sse);
        let parts: [&[u8]; 2] = [
            b"retry: 2000\nid: 1-0\n\n: heartbeat\n\nid: 1-1\ndata: a\ndata: b\n\nevent: comet-gap\nda",
            b"ta: {\"oldest\":\"1-4\"}\n\n",
        ];
        let frames = read_all(&mut reader, &parts);
        let expected =
            [Frame::Open("1-0".into()), Frame::Heartbeat, event("1-1", "a\nb"), Frame::Gap(Some("1-4".into()))];
        assert_eq!(frames, expected);
        assert_eq!(reader.end().unwrap(), Frame::Close(Some("1-1".into())));
    }

    #[test]
    fn multi_channel_sse_carries_the_event_object_and_ends_carry_their_id() {
        let mut reader = Reader::new(Transport::Sse).multi();
        let block = "id: 1-2\nevent: p\ndata: {\"id\":\"1-2\",\"channel\":\"b\",\"event\":\"p\",\"data\":\"x\",\"time\":1}\n\n\
            event: comet-gap\ndata: {\"channel\":\"a\",\"oldest\":null}\n\nid: 1-3\nevent: comet-end\ndata: {\"channel\":\"b\"}\n\n";
        let event = Received { id: "1-2".into(), event: "p".into(), data: "x".into(), channel: Some("b".into()) };
        let expected = [
            Frame::Event(event),
            Frame::ChannelGap { channel: "a".into(), oldest: None },
            Frame::End { channel: "b".into(), id: Some("1-3".into()) },
        ];
        assert_eq!(reader.push(block.as_bytes()).unwrap(), expected);
        let forged = "id: 1-9\ndata: {\"id\":\"1-2\",\"channel\":\"b\",\"event\":\"message\",\"data\":\"x\"}\n\n";
        assert!(Reader::new(Transport::Sse).multi().push(forged.as_bytes()).is_err());
    }

    #[test]
    fn an_sse_body_cut_inside_a_block_or_an_unknown_field_is_an_error() {
        let mut reader = Reader::new(Transport::Sse);
        reader.push(b"id: 1-1\ndata: a\n").unwrap();
        assert!(reader.end().is_err());
        assert!(Reader::new(Transport::Sse).push(b"colour: red\n\n").is_err());
    }

    #[test]
    fn stream_lines_after_exactly_two_kilobytes_of_padding() {
        let mut reader = Reader::new(Transport::Stream);
        let padding = format!("{}\n{{\"type\":\"open\",\"cursor\":\"1-0\"}}\n", " ".repeat(2047));
        let lines = b"{\"type\":\"event\",\"id\":\"1-1\",\"event\":\"message\",\"data\":\"x\\ny\"}\n{\"type\":\"reconnect\",\"cursor\":\"1-1\"}\n";
        let frames = read_all(&mut reader, &[padding.as_bytes(), lines]);
        assert_eq!(frames, [Frame::Open("1-0".into()), event("1-1", "x\ny"), Frame::Close(Some("1-1".into()))]);
        assert!(Reader::new(Transport::Stream).push(format!("{}\n", " ".repeat(100)).as_bytes()).is_err());
    }

    #[test]
    fn iframe_scripts_with_a_dotted_callback_and_the_page_tail() {
        let mut reader = Reader::new(Transport::Iframe).with_callback("a.b");
        let prelude = format!("<html><body>\n<!--{}-->\n", " ".repeat(1024));
        let scripts = b"<script>parent.a.b.showMsg({\"id\":\"1-1\",\"event\":\"message\",\"data\":\"\\u003c/script\\u003e\"})</script>\n\
            <script>parent.a.b.heartbeat()</script>\n<script>parent.a.b.timeout(\"1-1\")</script>\n</body></html>\n";
        let frames = read_all(&mut reader, &[prelude.as_bytes(), scripts]);
        assert_eq!(frames, [event("1-1", "</script>"), Frame::Heartbeat, Frame::Close(Some("1-1".into()))]);
        assert_eq!(reader.end().unwrap(), Frame::Close(None));
    }

    #[test]
    fn iframe_scripts_posted_to_the_parents_origin() {
        let mut reader = Reader::new(Transport::Iframe).posting_to("https://app.example");
        let prelude = format!("<!--{}-->\n", " ".repeat(1024));
        let post = |method: &str, args: &str, origin: &str| {
            let message = format!(r#"{{"comet":"comet","method":"{method}","args":[{args}]}}"#);
            let message = serde_json::to_string(&message).unwrap();
            format!("<script>parent.postMessage({message},\"{origin}\")</script>\n")
        };
        let page = format!(
            "{prelude}{}{}",
            post("showMsg", r#"{"id":"1-1","event":"message","data":"a,b"}"#, "https://app.example"),
            post("heartbeat", "", "https://app.example")
        );
        assert_eq!(reader.push(page.as_bytes()).unwrap(), [event("1-1", "a,b"), Frame::Heartbeat]);
        assert!(reader.push(post("heartbeat", "", "https://evil.example").as_bytes()).is_err());
    }

    #[test]
    fn an_iframe_calling_another_callback_is_an_error() {
        let mut reader = Reader::new(Transport::Iframe);
        let page = format!("<!--{}-->\n<script>parent.evil.showMsg({{}})</script>\n", " ".repeat(1024));
        assert!(reader.push(page.as_bytes()).is_err());
    }
}
