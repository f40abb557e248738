//! # wsproto: a sans-IO WebSocket protocol engine
//!
//! (crate docs: being written)
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
mod status;
mod time;
mod utf8;

pub use config::{Config, FRAGMENT_OVERHEAD};
pub use connection::{Connection, MessageKind, Role, SendOptions, State};
pub use error::{Error, ProtocolError, SendError, Timeout};
pub use event::{CloseFrame, Event};
pub use extension::{Extension, ExtensionError};
pub use frame::CloseCode;
pub use status::Status;
pub use time::Instant;
