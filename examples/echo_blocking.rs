//! Echo server on the blocking adapter: one thread per connection.
//!
//! ```text
//! cargo run --example echo_blocking -- --listen 127.0.0.1:9002
//! ```
//!
//! Prints `LISTENING ip:port` once bound; echoes text and binary messages.

use std::io::Write;
use std::net::TcpListener;

use wsproto::io::{Message, blocking};

fn main() {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(addr)) => addr,
        (None, _) => "127.0.0.1:9002".to_string(),
        _ => {
            eprintln!("usage: echo_blocking [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("cannot listen on {listen}: {e}");
        std::process::exit(1);
    });
    println!(
        "LISTENING {}",
        listener.local_addr().expect("bound address")
    );
    std::io::stdout().flush().expect("flush stdout");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let mut ws = match blocking::accept(stream) {
                Ok(ws) => ws,
                Err(e) => {
                    eprintln!("handshake failed: {e}");
                    return;
                }
            };
            while let Some(item) = ws.recv() {
                if let Ok(message @ (Message::Text(_) | Message::Binary(_))) = item {
                    let _ = ws.send(message);
                }
            }
        });
    }
}
