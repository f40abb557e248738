//! Log events (feature `tracing`): [`event!`] expands to `tracing::event!` with the target
//! `wsproto` when the feature is on, and to an `if false { .. }` block that only borrows the
//! field values when it is off, so call sites need no `#[cfg]`, values used only for logging
//! raise no unused warnings, and both builds type-check the same fields. Nothing is evaluated
//! at run time without the feature.
//!
//! Events sit where the decisions are made (the session layer, and the server for what only
//! it knows) and never on the per-message path. Fields: `role` ("client"/"server"), `peer`
//! (the peer's address, where known), `url` (client), `status` (HTTP), `close_code`,
//! `reason`, `error`, `timeout`. The list with levels is in docs/server.md ("Logging").
//!
//! Syntax: `event!(LEVEL, "message", name = value, name = %display, name = ?debug)`.

use core::net::SocketAddr;

use crate::{Role, Timeout};

#[cfg(feature = "tracing")]
macro_rules! event {
    ($level:ident, $message:literal $(, $($fields:tt)+)?) => {
        ::tracing::event!(
            target: "wsproto",
            ::tracing::Level::$level,
            message = $message,
            $($($fields)+)?
        )
    };
}

#[cfg(not(feature = "tracing"))]
macro_rules! event {
    ($level:ident, $message:literal $(, $($fields:tt)+)?) => {
        if false {
            $crate::trace::borrow_fields!($($($fields)+)?);
        }
    };
}

/// Borrows each field value of an event (the build without `tracing`).
#[cfg(not(feature = "tracing"))]
macro_rules! borrow_fields {
    () => {};
    ($name:ident = % $value:expr $(, $($rest:tt)*)?) => {
        let _ = &$value;
        $crate::trace::borrow_fields!($($($rest)*)?);
    };
    ($name:ident = ? $value:expr $(, $($rest:tt)*)?) => {
        let _ = &$value;
        $crate::trace::borrow_fields!($($($rest)*)?);
    };
    ($name:ident = $value:expr $(, $($rest:tt)*)?) => {
        let _ = &$value;
        $crate::trace::borrow_fields!($($($rest)*)?);
    };
}

#[cfg(not(feature = "tracing"))]
pub(crate) use borrow_fields;
pub(crate) use event;

/// The `role` field.
pub(crate) fn role(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}

/// The `peer` field: the address when known (recorded only then).
#[cfg(feature = "tracing")]
pub(crate) fn peer(addr: Option<SocketAddr>) -> Option<tracing::field::DisplayValue<SocketAddr>> {
    addr.map(tracing::field::display)
}

/// The `peer` field (the build without `tracing`: never evaluated).
#[cfg(not(feature = "tracing"))]
pub(crate) fn peer(addr: Option<SocketAddr>) -> Option<SocketAddr> {
    addr
}

/// The `timeout` field for a connection timer (the handshake's is "handshake", the wait for
/// the last bytes of a closed connection "drain").
pub(crate) fn timeout(timeout: Timeout) -> &'static str {
    match timeout {
        Timeout::Close => "close",
        Timeout::Keepalive => "keepalive",
        Timeout::Idle => "idle",
    }
}
