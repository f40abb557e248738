//! Clients of one runtime against servers of another, over loopback TCP.
#![cfg(all(feature = "tokio", feature = "futures-io"))]

mod common;

use std::net::TcpListener as StdListener;
use std::thread;

use common::io::{echo, echo_blocking};
use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::handshake::ClientOptions;
use wsproto::io::{Message, blocking};

fn messages() -> Vec<Message> {
    vec![
        Message::text("cross"),
        Message::text("ünïcödé ✓"),
        Message::binary((0..100_000u32).map(|i| i as u8).collect::<Vec<_>>()),
        Message::binary(vec![]),
    ]
}

/// Data messages the server echoed.
fn data_count(seen: &[Message]) -> usize {
    seen.iter().filter(|m| m.is_data()).count()
}

#[test]
fn smol_client_against_tokio_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt.spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = wsproto::io::on_tokio::accept(stream).await.unwrap();
        data_count(&echo(ws).await)
    });
    smol::block_on(async {
        let tcp = smol::net::TcpStream::connect(addr).await.unwrap();
        let (mut ws, _) = wsproto::io::on_futures::connect_with(
            tcp,
            &format!("ws://{addr}/"),
            ClientOptions::default(),
        )
        .await
        .unwrap();
        for m in messages() {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), m);
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
    assert_eq!(rt.block_on(server).unwrap(), messages().len());
}

#[test]
fn blocking_client_against_smol_server() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        smol::block_on(async {
            let listener = smol::net::TcpListener::try_from(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let ws = wsproto::io::on_futures::accept(stream).await.unwrap();
            data_count(&echo(ws).await)
        })
    });
    let (mut ws, _) =
        blocking::connect(&format!("ws://{addr}/"), ClientOptions::default()).unwrap();
    for m in messages() {
        ws.send(m.clone()).unwrap();
        assert_eq!(ws.recv().unwrap().unwrap(), m);
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.join().unwrap(), messages().len());
}

#[test]
fn tokio_client_against_blocking_server() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        data_count(&echo_blocking(blocking::accept(stream).unwrap()))
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut ws, _) =
            wsproto::io::on_tokio::connect(&format!("ws://{addr}/"), ClientOptions::default())
                .await
                .unwrap();
        for m in messages() {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), m);
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
    assert_eq!(server.join().unwrap(), messages().len());
}
