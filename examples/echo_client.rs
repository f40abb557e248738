//! Echo client (tokio): checks an echo server byte for byte.
//!
//! ```text
//! cargo run --release --all-features --example echo_client -- URL [--ca CA.pem] [--proxy http://HOST:PORT]
//! ```
//!
//! `URL` is `ws://` or `wss://` (flags may come before or after it). `wss://` trusts the
//! default roots (features `webpki-roots`/`native-roots`) plus the certificates in `--ca`; an
//! untrusted certificate or a wrong host name is an error (exit 1). `--proxy` tunnels through
//! an HTTP proxy with `CONNECT` (`http://[user:password@]host:port`), for `ws://` and
//! `wss://` alike; a refused tunnel is an error, never a direct connection.
//!
//! Connects offering permessage-deflate, sends text (ASCII, empty, multi-byte UTF-8) and binary
//! (0 B, 125 B, 64 KiB, 1 MiB) messages, checks every echo, closes with 1000, waits for the
//! server's Close and exits 0. Exits non-zero promptly on any mismatch or error.

use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::{ClientOptions, Proxy};
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

struct Args {
    url: String,
    ca: Option<String>,
    proxy: Option<String>,
}

fn parse_args() -> Option<Args> {
    let (mut url, mut ca, mut proxy) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = Some(args.next()?),
            "--proxy" => proxy = Some(args.next()?),
            flag if flag.starts_with("--") => return None,
            _ if url.is_none() => url = Some(arg),
            _ => return None,
        }
    }
    Some(Args {
        url: url?,
        ca,
        proxy,
    })
}

fn connect_options(args: &Args) -> Result<ConnectOptions, String> {
    let mut connect = ConnectOptions::new(options());
    if let Some(proxy) = &args.proxy {
        let proxy = Proxy::new(proxy).map_err(|e| format!("--proxy {proxy}: {e}"))?;
        connect = connect.proxy(proxy);
    }
    if let Some(ca) = &args.ca {
        #[cfg(feature = "rustls")]
        {
            use wsproto::tls;
            let pem = std::fs::read(ca).map_err(|e| format!("--ca {ca}: {e}"))?;
            let mut roots = tls::default_roots();
            for cert in tls::certificates_from_pem(&pem).map_err(|e| format!("--ca {ca}: {e}"))? {
                roots.add(cert).map_err(|e| format!("--ca {ca}: {e}"))?;
            }
            connect = connect.tls(tls::client_config(roots).map_err(|e| e.to_string())?);
        }
        #[cfg(not(feature = "rustls"))]
        return Err(format!("--ca {ca}: this build has no TLS (feature rustls)"));
    }
    Ok(connect)
}

async fn run(args: &Args) -> Result<(), String> {
    let url = args.url.as_str();
    let (mut ws, response) = connect(url, connect_options(args)?)
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
    let Some(args) = parse_args() else {
        eprintln!("usage: echo_client URL [--ca CA.pem] [--proxy http://HOST:PORT]");
        return ExitCode::from(2);
    };
    match tokio::time::timeout(Duration::from_secs(60), run(&args)).await {
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
