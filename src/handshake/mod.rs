//! The opening handshake (RFC 6455 §4): placeholder, see the handshake issue.
