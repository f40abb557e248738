//! Echo client (tokio): checks an echo server byte for byte.
//!
//! ```text
//! cargo run --release --all-features --example echo_client -- ws://127.0.0.1:9001/
//! ```
//!
//! Connects offering permessage-deflate, sends text (ASCII, empty, multi-byte UTF-8) and binary
//! (0 B, 125 B, 64 KiB, 1 MiB) messages, checks every echo, closes with 1000, waits for the
//! server's Close and exits 0. Exits non-zero promptly on any mismatch or error.

use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::ClientOptions;
use wsproto::io::on_tokio::{WebSocket, connect};
use wsproto::io::{ConnectOptions, Message};

fn options() -> ClientOptions {
    ClientOptions::default().extension(PerMessageDeflate::default())
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8)
        .collect()
}

fn messages() -> Vec<Message> {
    vec![
        Message::text("Hello, wsproto!"),
        Message::text(""),
        Message::text("héllo wörld ✓ — 日本語 🎉 ∑"),
        Message::binary(Vec::new()),
        Message::binary(pattern(125, 1)),
        Message::binary(pattern(64 * 1024, 2)),
        Message::binary(pattern(1024 * 1024, 3)),
    ]
}

async fn next_data<S>(ws: &mut WebSocket<S>) -> Result<Message, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return Ok(m),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("expected an echo, got {other:?}")),
            Some(Err(e)) => return Err(format!("error while waiting for an echo: {e}")),
            None => return Err("connection ended while waiting for an echo".into()),
        }
    }
}

async fn run(url: &str) -> Result<(), String> {
    let (mut ws, response) = connect(url, ConnectOptions::new(options()))
        .await
        .map_err(|e| format!("connect to {url} failed: {e}"))?;
    eprintln!(
        "connected: HTTP {} (extensions: {:?})",
        response.status,
        response.header("sec-websocket-extensions")
    );
    for (i, message) in messages().into_iter().enumerate() {
        ws.send(message.clone())
            .await
            .map_err(|e| format!("send #{i} failed: {e}"))?;
        let echo = next_data(&mut ws).await?;
        if echo != message {
            return Err(format!(
                "echo #{i} differs: sent {} {} bytes, got {} {} bytes",
                if message.is_text() { "text" } else { "binary" },
                message.len(),
                if echo.is_text() { "text" } else { "binary" },
                echo.len()
            ));
        }
        eprintln!("echo #{i} ok ({} bytes)", message.len());
    }
    ws.close(CloseCode::NORMAL, "done")
        .await
        .map_err(|e| format!("close failed: {e}"))?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: echo_client URL");
        return ExitCode::from(2);
    };
    match tokio::time::timeout(Duration::from_secs(60), run(&url)).await {
        Ok(Ok(())) => {
            eprintln!("all echoes matched; closed cleanly");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("echo_client: timed out");
            ExitCode::FAILURE
        }
    }
}
