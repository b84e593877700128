//! A test subscriber for any of the four transports: it parses each framing on its own
//! (not with the gateway's code) into the same [`Frame`]s, so one test covers all four.

use serde_json::Value;

use crate::helpers::{Incoming, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Sse,
    Poll,
    Stream,
    Iframe,
}

pub const ALL: [Transport; 4] = [Transport::Sse, Transport::Poll, Transport::Stream, Transport::Iframe];
pub const STREAMING: [Transport; 3] = [Transport::Sse, Transport::Stream, Transport::Iframe];

/// One thing a subscriber was told, whatever the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The stream opened at this cursor.
    Open(String),
    Event(Received),
    Gap(Option<String>),
    Heartbeat,
    /// The server ended the response; resume from this cursor (SSE: the last id seen).
    Close(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub event: String,
    pub data: String,
}

pub struct Subscriber {
    pub transport: Transport,
    channel: String,
    body: Option<Incoming>,
    /// Long-poll only: the cursor of the next poll and frames not yet handed out.
    cursor: String,
    queued: std::collections::VecDeque<Frame>,
    last_sse_id: Option<String>,
    /// Query parameters added to every request (such as `&token=...`).
    extra: String,
}

impl Subscriber {
    /// Connects at `cursor` and returns with the open frame read (poll: with its position).
    pub async fn connect(app: &TestApp, transport: Transport, channel: &str, cursor: &str) -> (Subscriber, String) {
        Subscriber::connect_with(app, transport, channel, cursor, "").await
    }

    /// As [`Subscriber::connect`], with `extra` appended to every request's query.
    pub async fn connect_with(
        app: &TestApp,
        transport: Transport,
        channel: &str,
        cursor: &str,
        extra: &str,
    ) -> (Subscriber, String) {
        let mut subscriber = Subscriber {
            transport,
            channel: channel.to_owned(),
            body: None,
            cursor: cursor.to_owned(),
            queued: Default::default(),
            last_sse_id: None,
            extra: extra.to_owned(),
        };
        if transport == Transport::Poll {
            if cursor.is_empty() {
                let answer = poll(app, channel, extra, Some(0)).await;
                subscriber.cursor = answer["cursor"].as_str().unwrap().to_owned();
            }
            let opened = subscriber.cursor.clone();
            return (subscriber, opened);
        }
        let path = match transport {
            Transport::Sse => format!("/sse/{channel}?cursor={cursor}{extra}"),
            Transport::Stream => format!("/stream/{channel}?cursor={cursor}{extra}"),
            _ => format!("/iframe/{channel}?cursor={cursor}{extra}"),
        };
        let body = app.open(&path).await;
        assert_eq!(body.status, 200, "{transport:?} refused {path}");
        subscriber.body = Some(body);
        if transport == Transport::Iframe {
            let prelude = subscriber.body().until(b"-->\n").await.expect("no iframe prelude");
            assert!(prelude.len() > 1024, "iframe padding under 1 KiB");
            return (subscriber, String::new());
        }
        let opened = match subscriber.next(app).await {
            Frame::Open(cursor) => cursor,
            other => panic!("{transport:?} opened with {other:?}"),
        };
        (subscriber, opened)
    }

    /// Reads the next frame.
    pub async fn next(&mut self, app: &TestApp) -> Frame {
        match self.transport {
            Transport::Poll => self.next_polled(app).await,
            Transport::Sse => self.next_sse().await,
            Transport::Stream => self.next_line().await,
            Transport::Iframe => self.next_script().await,
        }
    }

    /// Reads `count` events, skipping heartbeats; any other frame fails the test.
    pub async fn events(&mut self, app: &TestApp, count: usize) -> Vec<Received> {
        let mut events = Vec::new();
        while events.len() < count {
            match self.next(app).await {
                Frame::Event(event) => events.push(event),
                Frame::Heartbeat => {}
                other => panic!("{:?}: expected an event, got {other:?} after {}", self.transport, events.len()),
            }
        }
        events
    }

    /// Reads up to the server's close frame, returning the events before it and its cursor.
    pub async fn until_close(&mut self, app: &TestApp) -> (Vec<Received>, Option<String>) {
        let mut events = Vec::new();
        loop {
            match self.next(app).await {
                Frame::Event(event) => events.push(event),
                Frame::Heartbeat => {}
                Frame::Close(cursor) => return (events, cursor),
                other => panic!("{:?}: unexpected {other:?}", self.transport),
            }
        }
    }

    /// Bytes received so far on a streaming transport.
    pub fn body(&mut self) -> &mut Incoming {
        self.body.as_mut().expect("not a streaming transport")
    }

    async fn next_polled(&mut self, app: &TestApp) -> Frame {
        while self.queued.is_empty() {
            let cursor = format!("{}{}", self.cursor, self.extra);
            let answer = poll(app, &self.channel, &cursor, None).await;
            if answer["gap"] == true {
                self.queued.push_back(Frame::Gap(answer["oldest"].as_str().map(str::to_owned)));
            }
            for event in answer["events"].as_array().unwrap() {
                self.queued.push_back(Frame::Event(received(event)));
            }
            self.cursor = answer["cursor"].as_str().unwrap().to_owned();
        }
        self.queued.pop_front().unwrap()
    }

    async fn next_sse(&mut self) -> Frame {
        let Some(block) = self.body().until(b"\n\n").await else {
            assert!(self.body().rest().is_empty(), "SSE body ended mid-block");
            return Frame::Close(self.last_sse_id.clone());
        };
        let block = String::from_utf8(block).unwrap();
        let (mut id, mut event, mut data, mut retry) = (None, None, Vec::new(), false);
        for line in block.trim_end_matches('\n').split('\n') {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "" => return Frame::Heartbeat,
                "id" => id = Some(value.to_owned()),
                "event" => event = Some(value.to_owned()),
                "data" => data.push(value),
                "retry" => retry = true,
                other => panic!("unknown SSE field {other:?}"),
            }
        }
        if let Some(id) = &id {
            self.last_sse_id = Some(id.clone());
        }
        if retry {
            return Frame::Open(id.expect("open block without id"));
        }
        if event.as_deref() == Some("comet-gap") {
            assert!(id.is_none(), "gap moved the cursor");
            return Frame::Gap(oldest(&serde_json::from_str(data[0]).unwrap()));
        }
        let event = event.unwrap_or_else(|| "message".into());
        Frame::Event(Received { id: id.expect("event without id"), event, data: data.join("\n") })
    }

    async fn next_line(&mut self) -> Frame {
        let Some(line) = self.body().until(b"\n").await else { return Frame::Close(None) };
        if line.iter().all(|&b| b == b' ' || b == b'\n') {
            assert_eq!(line.len(), 2048, "padding is 2 KiB");
            return Box::pin(self.next_line()).await;
        }
        let value: Value = serde_json::from_slice(&line).unwrap();
        match value["type"].as_str().unwrap() {
            "open" => Frame::Open(value["cursor"].as_str().unwrap().to_owned()),
            "event" => Frame::Event(received(&value)),
            "gap" => Frame::Gap(oldest(&value)),
            "heartbeat" => Frame::Heartbeat,
            "reconnect" => Frame::Close(Some(value["cursor"].as_str().unwrap().to_owned())),
            other => panic!("unknown line type {other}"),
        }
    }

    async fn next_script(&mut self) -> Frame {
        let Some(chunk) = self.body().until(b"</script>\n").await else { return Frame::Close(None) };
        let chunk = String::from_utf8(chunk).unwrap();
        let call = chunk.strip_prefix("<script>parent.comet.").expect("not a callback script");
        let call = call.strip_suffix(")</script>\n").unwrap();
        let (method, args) = call.split_once('(').unwrap();
        match method {
            "showMsg" => Frame::Event(received(&serde_json::from_str(args).unwrap())),
            "gap" => Frame::Gap(oldest(&serde_json::from_str(args).unwrap())),
            "heartbeat" => Frame::Heartbeat,
            "timeout" => Frame::Close(Some(serde_json::from_str(args).unwrap())),
            other => panic!("unknown callback {other}"),
        }
    }
}

/// One long-poll answer as JSON.
pub async fn poll(app: &TestApp, channel: &str, cursor: &str, timeout: Option<u64>) -> Value {
    let timeout = timeout.map(|t| format!("&timeout={t}")).unwrap_or_default();
    let response = app.get(&format!("/poll/{channel}?cursor={cursor}{timeout}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn received(value: &Value) -> Received {
    let text = |key: &str| value[key].as_str().unwrap_or_else(|| panic!("event without {key}: {value}")).to_owned();
    Received { id: text("id"), event: text("event"), data: text("data") }
}

fn oldest(value: &Value) -> Option<String> {
    value["oldest"].as_str().map(str::to_owned)
}
