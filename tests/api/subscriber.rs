//! A test subscriber for any transport, of one channel or of several (`a,b,c`): it reads each framing with the
//! reference client (`cometgate-wire`, written apart from the gateway's encoders) into the
//! same [`Frame`]s, so one test covers all four.

use std::collections::VecDeque;

use cometgate_wire::Reader;
pub use cometgate_wire::{Frame, Received, Transport};
use serde_json::Value;

use crate::helpers::{Incoming, TestApp};

pub const ALL: [Transport; 5] = Transport::ALL;
pub const STREAMING: [Transport; 3] = Transport::STREAMING;

/// The callback the JSONP subscriber names, dotted as a page's would be.
const JSONP_CALLBACK: &str = "page.feed";

pub struct Subscriber {
    pub transport: Transport,
    channel: String,
    body: Option<Incoming>,
    reader: Reader,
    /// Frames read and not yet handed out.
    queued: VecDeque<Frame>,
    /// Long-poll only: the cursor of the next poll.
    cursor: String,
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
        let reader =
            Reader::new(transport).with_callback(if transport == Transport::Jsonp { JSONP_CALLBACK } else { "comet" });
        let mut subscriber = Subscriber {
            transport,
            channel: channel.to_owned(),
            body: None,
            reader: if channel.contains(',') { reader.multi() } else { reader },
            queued: VecDeque::new(),
            cursor: cursor.to_owned(),
            extra: extra.to_owned(),
        };
        if transport.is_polled() {
            if cursor.is_empty() {
                let (frames, opened) = subscriber.request(app, "&timeout=0").await;
                assert!(frames.is_empty(), "{transport:?}: a live poll answered {frames:?}");
                subscriber.cursor = opened;
            }
            let opened = subscriber.cursor.clone();
            return (subscriber, opened);
        }
        let path = format!("/{}/{channel}?cursor={cursor}{extra}", transport.route());
        let body = app.open(&path).await;
        assert_eq!(body.status, 200, "{transport:?} refused {path}");
        subscriber.body = Some(body);
        if transport == Transport::Iframe {
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
        if self.transport.is_polled() { self.next_polled(app).await } else { self.next_streamed().await }
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
            let (frames, cursor) = self.request(app, "").await;
            self.queued.extend(frames);
            self.cursor = cursor;
        }
        self.queued.pop_front().unwrap()
    }

    /// One long-poll or JSONP request from the current cursor, read by the reference client.
    async fn request(&self, app: &TestApp, more: &str) -> (Vec<Frame>, String) {
        let jsonp = self.transport == Transport::Jsonp;
        let callback = if jsonp { format!("&callback={JSONP_CALLBACK}") } else { String::new() };
        let (route, channel, cursor, extra) = (self.transport.route(), &self.channel, &self.cursor, &self.extra);
        let path = format!("/{route}/{channel}?cursor={cursor}{extra}{callback}{more}");
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body = response.bytes().await.unwrap();
        self.reader.answer(&body).unwrap_or_else(|err| panic!("{path}: {err:#}"))
    }

    async fn next_streamed(&mut self) -> Frame {
        while self.queued.is_empty() {
            let transport = self.transport;
            let frames = match self.body().chunk().await {
                Some(bytes) => self.reader.push(&bytes),
                None => self.reader.end().map(|close| vec![close]),
            };
            self.queued.extend(frames.unwrap_or_else(|err| panic!("{transport:?}: {err:#}")));
        }
        self.queued.pop_front().unwrap()
    }
}

/// One long-poll answer as JSON.
pub async fn poll(app: &TestApp, channel: &str, cursor: &str, timeout: Option<u64>) -> Value {
    let timeout = timeout.map(|t| format!("&timeout={t}")).unwrap_or_default();
    let response = app.get(&format!("/poll/{channel}?cursor={cursor}{timeout}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}
