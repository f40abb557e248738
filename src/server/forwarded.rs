//! The client's address behind a trusted proxy: the first `X-Forwarded-For` entry, or the
//! first `for=` of `Forwarded` (RFC 7239). Only used when the server is told to trust a proxy;
//! otherwise anyone could claim any address.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::net::{IpAddr, SocketAddr};

use crate::handshake::Request;

/// The address to report for this request.
pub(crate) fn client_addr(request: &Request, peer: SocketAddr, trust_proxy: bool) -> SocketAddr {
    if !trust_proxy {
        return peer;
    }
    forwarded_for(request)
        .or_else(|| x_forwarded_for(request))
        .unwrap_or(peer)
}

fn x_forwarded_for(request: &Request) -> Option<SocketAddr> {
    let first = request.header("X-Forwarded-For")?.split(',').next()?;
    parse_node(first.trim())
}

fn forwarded_for(request: &Request) -> Option<SocketAddr> {
    let element = request.header("Forwarded")?.split(',').next()?;
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case("for")
            .then(|| parse_node(value.trim().trim_matches('"')))
            .flatten()
    })
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[::1]`, `[::1]:5678` or `::1` (port 0 when absent).
fn parse_node(node: &str) -> Option<SocketAddr> {
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = node.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: (&str, &str)) -> Request {
        Request::from_parts(
            "GET",
            "/",
            &[
                ("Host", b"h"),
                ("Upgrade", b"websocket"),
                ("Connection", b"Upgrade"),
                ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", b"13"),
                (header.0, header.1.as_bytes()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn only_when_trusted() {
        let peer: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let r = request(("X-Forwarded-For", "203.0.113.7, 10.0.0.1"));
        assert_eq!(client_addr(&r, peer, false), peer);
        assert_eq!(
            client_addr(&r, peer, true),
            "203.0.113.7:0".parse::<SocketAddr>().unwrap()
        );
        let r = request((
            "Forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.1",
        ));
        assert_eq!(
            client_addr(&r, peer, true),
            "[2001:db8::1]:4711".parse::<SocketAddr>().unwrap()
        );
        let r = request(("X-Forwarded-For", "garbage"));
        assert_eq!(client_addr(&r, peer, true), peer);
    }
}
