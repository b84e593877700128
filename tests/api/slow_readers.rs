//! A client that never reads: the gateway cuts it within a bounded time, it has been sent
//! no more than the unsent-bytes bound, and it resumes from its last complete event.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use socket2::{Domain, Socket, Type};

use crate::helpers::{TestApp, spawn_app_with};
use crate::subscriber::poll;

/// The default `--max-unsent-bytes`.
const MAX_UNSENT_BYTES: usize = 1 << 20;

/// A stream's opening cursor, and the id and data of each complete event after it.
type Received = (String, Vec<(String, String)>);

/// A connection to the gateway whose receive buffer is 4 KiB, so it fills at once.
fn connect_small(app: &TestApp) -> TcpStream {
    let address: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    socket.into()
}

/// Everything the client's kernel received: read without waiting, once the gateway cut it.
fn drain(mut tcp: TcpStream) -> Vec<u8> {
    tcp.set_nonblocking(true).unwrap();
    let (mut received, mut buffer) = (Vec::new(), [0; 16 * 1024]);
    loop {
        match tcp.read(&mut buffer) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return received,
        }
    }
}

/// The body of a chunked HTTP/1.1 response, as far as it arrived.
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no response head") + 4;
    let (mut rest, mut body) = (&raw[head_end..], Vec::new());
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        let chunk = &rest[line_end + 2..];
        body.extend_from_slice(&chunk[..size.min(chunk.len())]);
        rest = chunk.get(size + 2..).unwrap_or_default();
    }
    body
}

/// What a streaming XHR body carried.
fn stream_events(body: &[u8]) -> Received {
    let text = String::from_utf8_lossy(body);
    let lines: Vec<Value> =
        text.split_inclusive('\n').filter_map(|line| serde_json::from_str(line.trim()).ok()).collect();
    let open = lines.iter().find(|line| line["type"] == "open").expect("no open line")["cursor"].to_string();
    let events = lines.iter().filter(|line| line["type"] == "event");
    (open.trim_matches('"').to_owned(), events.map(|e| (text_of(&e["id"]), text_of(&e["data"]))).collect())
}

/// What an SSE body carried: complete blocks only (a block ends with an empty line).
fn sse_events(body: &[u8]) -> Received {
    let text = String::from_utf8_lossy(body);
    let mut blocks = text.split_inclusive("\n\n").filter(|block| block.ends_with("\n\n")).map(|block| {
        let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(name)).unwrap_or_default().to_owned();
        (field("id: "), field("data: "))
    });
    let open = blocks.next().expect("no opening block").0;
    (open, blocks.collect())
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// Ten small events, then 54 of 64 KiB: 3.4 MiB that the client never reads.
fn payloads() -> Vec<String> {
    (0..64).map(|n| format!("{n:03}{}", "x".repeat(if n < 10 { 200 } else { 64 * 1024 - 3 }))).collect()
}

async fn a_reader_that_never_reads_is_cut_and_resumes_exactly(path: &str, parse: fn(&[u8]) -> Received) {
    let app = spawn_app_with(|s| {
        s.stream_max_bytes = usize::MAX;
        s.send_timeout = Duration::from_secs(1);
    })
    .await;
    let mut tcp = connect_small(&app);
    tcp.write_all(format!("GET {path}/slow?cursor=earliest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).unwrap();
    app.await_subscribers("slow", 1).await;
    let datas = payloads();
    app.publish_all("slow", &datas).await;
    app.await_subscribers("slow", 0).await;
    let raw = drain(tcp);
    assert!(raw.len() <= MAX_UNSENT_BYTES, "the client was sent {} bytes", raw.len());
    let (open, mut received) = parse(&dechunk(&raw));
    let mut cursor = received.last().map_or(open, |(id, _)| id.clone());
    while received.len() < datas.len() {
        let answer = poll(&app, "slow", &cursor, Some(0)).await;
        assert_eq!(answer["gap"], false);
        let events = answer["events"].as_array().unwrap();
        assert!(!events.is_empty(), "resumed at {cursor} with {} of {} events", received.len(), datas.len());
        received.extend(events.iter().map(|e| (text_of(&e["id"]), text_of(&e["data"]))));
        cursor = text_of(&answer["cursor"]);
    }
    let received: Vec<String> = received.into_iter().map(|(_, data)| data).collect();
    assert_eq!(received, datas);
}

#[tokio::test]
async fn a_stream_reader_that_never_reads_is_cut_and_resumes_from_its_last_complete_event() {
    a_reader_that_never_reads_is_cut_and_resumes_exactly("/stream", stream_events).await;
}

#[tokio::test]
async fn an_sse_reader_that_never_reads_is_cut_and_resumes_from_its_last_complete_event() {
    a_reader_that_never_reads_is_cut_and_resumes_exactly("/sse", sse_events).await;
}
