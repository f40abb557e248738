//! The `chat` example's contract, driven as other tools drive it: the real binary on a free
//! port, its `LISTENING` line, the page at `/`, 404 elsewhere, relay to every client in order
//! and once, a client that stops reading closed without delaying the others, and SIGTERM:
//! Close 1001 to everyone and exit 0.
#![cfg(all(feature = "tokio", unix))]

#[path = "common/example.rs"]
mod example;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::handshake::ClientOptions;
use wsproto::io::Message;
use wsproto::io::on_tokio::{ClientStream, WebSocket, connect};

use example::Example;

fn start_chat() -> Example {
    example::start("chat", &[])
}

async fn join(chat: &Example) -> WebSocket<ClientStream> {
    connect(&format!("ws://{}/ws", chat.addr), ClientOptions::default())
        .await
        .unwrap()
        .0
}

async fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_contract() {
    let chat = start_chat();

    // The page, and 404 for other paths (plain and upgrade).
    let page = http_get(&chat.addr, "/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"));
    assert!(page.contains("new WebSocket("));
    assert!(http_get(&chat.addr, "/nope").starts_with("HTTP/1.1 404"));
    let err = connect(
        &format!("ws://{}/other", chat.addr),
        ClientOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.response().map(|r| r.status), Some(404));

    // Relay: every client, sender included, gets each sender's messages in order, once,
    // byte for byte.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(join(&chat).await);
    }
    let odd = "héllo ✓ 🎉 \u{0} end";
    for i in 0..20 {
        clients[0]
            .send(Message::text(format!("{odd} {i}")))
            .await
            .unwrap();
    }
    clients[3].send(Message::text("from 3")).await.unwrap();
    for ws in clients.iter_mut() {
        let mut got = Vec::new();
        for _ in 0..21 {
            got.push(next_text(ws).await);
        }
        let from0: Vec<_> = got.iter().filter(|t| t.starts_with(odd)).cloned().collect();
        assert_eq!(
            from0,
            (0..20).map(|i| format!("{odd} {i}")).collect::<Vec<_>>()
        );
        assert_eq!(got.iter().filter(|t| *t == "from 3").count(), 1);
    }

    // SIGTERM: Close 1001 to everyone, exit 0 within 10 s.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                while let Some(item) = ws.next().await {
                    if let Ok(Message::Close(frame)) = item {
                        return frame.map(|f| f.code);
                    }
                }
                None
            })
        })
        .collect();
    let mut chat = chat;
    let pid = chat.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = chat.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    for r in readers {
        assert_eq!(r.await.unwrap(), Some(CloseCode::GOING_AWAY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_without_delaying_the_others() {
    let chat = start_chat();
    // The silent client: handshake, then it never reads.
    let mut silent = std::net::TcpStream::connect(&chat.addr).unwrap();
    write!(
        silent,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let sender = join(&chat).await;
    let mut reader = join(&chat).await;
    // 40 MB of chat through the server: more than the silent client's socket buffers and
    // its 8 MiB queue together. The reader keeps up and gets everything, in order.
    let payload = "x".repeat(64 * 1024);
    let count = 640;
    let reading = tokio::spawn(async move {
        for i in 0..count {
            let t = next_text(&mut reader).await;
            assert!(t.starts_with(&format!("{i:04}:")), "message {i}");
        }
    });
    // The sender reads its own copies too, so it is not a slow client.
    let (mut own_copies, mut sender) = sender.split();
    let draining = tokio::spawn(async move { while own_copies.next().await.is_some() {} });
    let sending = tokio::spawn(async move {
        for i in 0..count {
            sender
                .send(Message::text(format!("{i:04}:{payload}")))
                .await
                .unwrap();
        }
        sender
    });
    tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .unwrap()
        .unwrap();
    let _sender = sending.await.unwrap();
    draining.abort();
    // The silent client was closed: its connection ends (1013 if the frame got through, or
    // just the end of the stream), and memory stayed bounded meanwhile.
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let started = Instant::now();
    loop {
        match silent.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the silent client was never closed: {e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
