//! # wsproto: a sans-IO WebSocket protocol engine
//!
//! `wsproto` implements the WebSocket protocol (RFC 6455) and permessage-deflate (RFC 7692) as
//! a pure state machine: bytes and time go in, events and bytes come out. The core never
//! touches a socket, a clock or the operating system, so it runs in any event loop, async
//! runtime, game engine or `no_std` firmware, and it is easy to fuzz.
//!
//! ```text
//!              receive(now, bytes) / recv_buf + commit_recv        send_text / send_binary /
//!   network ─────────────────────────────────────────►┌────────────┐◄─ send_ping / close (commands)
//!                                                      │ Connection │
//!   network ◄──────────── poll_transmit / advance_transmit │      ├──► poll_event: Event<'_>
//!                                                      └────────────┘    (Text, Binary, Ping, Pong, Close)
//!   clock   ──── handle_timeout(now) ◄──── poll_timeout ────┘
//! ```
//!
//! ## Getting started
//!
//! The opening handshake lives in [`handshake`] ([`handshake::ClientHandshake`],
//! [`handshake::ServerHandshake`]); it yields a [`Connection`]. A connection can also be made
//! directly, e.g. after another HTTP server did the upgrade. Here a client and a server talk
//! through memory:
//!
//! ```
//! use wsproto::{CloseCode, Config, Connection, Event, Instant, Role, State};
//!
//! let now = Instant::ZERO;
//! let mut client = Connection::new(Role::Client, Config::new());
//! let mut server = Connection::new(Role::Server, Config::new());
//!
//! client.send_text("hello").unwrap();
//! // Driver step: write out what the connection queued (here: straight into the peer).
//! let out = client.poll_transmit().to_vec();
//! client.advance_transmit(out.len());
//! server.receive(now, &out);
//!
//! // Drain events; they borrow the connection's buffer until the next call.
//! match server.poll_event() {
//!     Ok(Some(Event::Text { data, fin: true })) => assert_eq!(data, "hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert_eq!(server.poll_event(), Ok(None));
//!
//! // Closing handshake: the server echoes the client's Close automatically.
//! client.close(now, CloseCode::NORMAL, "bye").unwrap();
//! let out = client.poll_transmit().to_vec();
//! client.advance_transmit(out.len());
//! server.receive(now, &out);
//! assert!(matches!(server.poll_event(), Ok(Some(Event::Close { code, .. })) if code == CloseCode::NORMAL));
//! let echo = server.poll_transmit().to_vec();
//! server.advance_transmit(echo.len());
//! assert!(server.should_close_transport()); // the server closes TCP first (RFC 6455 §7.1.1)
//! client.receive(now, &echo);
//! assert!(matches!(client.poll_event(), Ok(Some(Event::Close { .. }))));
//! assert_eq!(client.state(), State::Closed);
//! ```
//!
//! A real driver loops: read from the transport into [`Connection::recv_buf`] (or pass a
//! slice to [`Connection::receive`]), drain [`Connection::poll_event`], write
//! [`Connection::poll_transmit`] and report it with [`Connection::advance_transmit`], then sleep
//! until [`Connection::poll_timeout`] and call [`Connection::handle_timeout`]. That loop, with
//! everything an application needs around it (owned messages, the closing wait, read gating,
//! the dial and accept flows), is written once in [`session`]; the adapters in `io` (features
//! `std`, `tokio`, `futures-io`) only carry out its steps.
//!
//! ## Safety and limits
//!
//! `#![forbid(unsafe_code)]`. Peer input never panics: every malformed frame maps to a
//! [`ProtocolError`] whose [`close_code`](ProtocolError::close_code) is what goes on the wire,
//! and every limit ([`Config`]: frame, message, fragments, send queue, pending pongs; handshake
//! header bytes and count) has a safe default and is decided before memory is committed.
//! Normal closure is an [`Event::Close`], never an error.
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | OS entropy ([`rand::os_random`]), the blocking adapter ([`io::blocking`]) |
//! | `tokio` | no | tokio adapter (`io::on_tokio`): `connect`, `accept`, `WebSocket` as `Stream` + `Sink` |
//! | `futures-io` | no | futures-io adapter (`io::on_futures`) for async-std and smol |
//! | `async-std` | no | alias of `futures-io` |
//! | `http` | no | conversions from `http::Request` and to `http::Response` |
//! | `rustls` | no | `wss://` in `connect`, TLS servers (`ServerBuilder::tls`), [`tls`] (rustls, *ring*) |
//! | `webpki-roots` / `native-roots` | no | default trust roots: Mozilla's / the platform's |
//! | `redis` | no | scale-out: broadcasts and topics across server processes (`server::RedisBackplane`) |
//! | `hyper` | no | WebSockets inside a hyper 1.x server (`upgrade::hyper`) |
//! | `axum` | no | the axum 0.8 extractor `upgrade::axum::WebSocketUpgrade` |
//! | `zlib-rs` | no | permessage-deflate ([`deflate`]) on zlib-rs instead of miniz_oxide: faster compression, small windows bounded natively (implies `std`; docs/deflate.md, "Backends") |
//! | `tracing` | no | `tracing` events (target `wsproto`) for handshakes, protocol errors, closes, timeouts; no_std-capable (docs/server.md, "Logging") |
//!
//! Without `std` the crate is `no_std` + `alloc`; supply an entropy source with
//! [`Config::random`] for client masking keys.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// The core uses only `core` + `alloc`, so a build without `std` gets an error wherever std's
// prelude is relied on (the rustls 0.23 trick). `std` adds OS entropy, std::io conversions and
// the adapters.
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod config;
pub mod connection;
pub mod deflate;
mod error;
mod event;
pub mod extension;
pub mod frame;
pub mod handshake;
#[cfg(feature = "std")]
pub mod io;
pub mod message;
pub mod rand;
#[cfg(feature = "tokio")]
pub mod server;
pub mod session;
mod status;
mod time;
#[cfg(feature = "rustls")]
pub mod tls;
mod trace;
#[cfg(feature = "hyper")]
pub mod upgrade;
mod utf8;

pub use config::{Config, FRAGMENT_OVERHEAD};
pub use connection::{Connection, MessageKind, Role, SendOptions, State};
pub use error::{Error, ProtocolError, SendError, Timeout};
pub use event::Event;
pub use extension::{Extension, ExtensionError};
pub use frame::CloseCode;
pub use message::CloseFrame;
pub use status::Status;
pub use time::Instant;

// The README's Rust examples compile as doctests.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
