//! Echo server on the futures-io adapter, run by smol (async-std works the same way).
//!
//! ```text
//! cargo run --features futures-io --example echo_futures -- --listen 127.0.0.1:9003
//! ```
//!
//! Prints `LISTENING ip:port` once bound; echoes text and binary messages.

use std::io::Write;

use futures_util::StreamExt;
use smol::net::TcpListener;
use wsproto::io::{Message, on_futures::accept};

fn main() {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(addr)) => addr,
        (None, _) => "127.0.0.1:9003".to_string(),
        _ => {
            eprintln!("usage: echo_futures [--listen ADDR]");
            std::process::exit(2);
        }
    };
    smol::block_on(async {
        let listener = TcpListener::bind(&listen).await.unwrap_or_else(|e| {
            eprintln!("cannot listen on {listen}: {e}");
            std::process::exit(1);
        });
        println!(
            "LISTENING {}",
            listener.local_addr().expect("bound address")
        );
        std::io::stdout().flush().expect("flush stdout");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            smol::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(mut ws) = accept(stream).await else {
                    return;
                };
                while let Some(item) = ws.next().await {
                    if let Ok(message @ (Message::Text(_) | Message::Binary(_))) = item {
                        let _ = ws.send(message).await;
                    }
                }
            })
            .detach();
        }
    });
}
