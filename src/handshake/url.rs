//! `ws://` and `wss://` URLs (RFC 6455 §3), parsed without a URL crate.
//!
//! ```text
//! ws-URI  = "ws:"  "//" host [ ":" port ] path [ "?" query ]
//! wss-URI = "wss:" "//" host [ ":" port ] path [ "?" query ]
//! ```
//!
//! Userinfo and fragments are refused (RFC 6455 §3: "Fragment identifiers are meaningless in the
//! context of WebSocket URIs"); the host may be a name, IPv4 address or `[IPv6]` literal; the
//! port defaults to 80 / 443; bytes of the path and query that may not appear in a request line
//! are percent-encoded.

use alloc::string::String;

use super::HandshakeError;

/// A parsed WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsUrl {
    /// Host without brackets, lowercased (for the TCP connect and TLS server name).
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    /// The `Host` header value: `host`, `[v6]`, with `:port` unless it is the default.
    pub(crate) host_header: String,
    /// Path and query, never empty (`/` by default).
    pub(crate) target: String,
}

fn err(what: &'static str) -> HandshakeError {
    HandshakeError::InvalidUrl(what)
}

/// Bytes that may stay as they are in a request target; the rest are percent-encoded.
fn target_byte_ok(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"\"<>\\^`{|}".contains(&b)
}

pub(crate) fn reg_name_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b)
}

pub(crate) fn parse(url: &str) -> Result<WsUrl, HandshakeError> {
    let (scheme, rest) = url.split_once("://").ok_or(err("missing scheme"))?;
    let tls = if scheme.eq_ignore_ascii_case("ws") {
        false
    } else if scheme.eq_ignore_ascii_case("wss") {
        true
    } else {
        return Err(err("scheme must be ws or wss"));
    };
    if rest.contains('#') {
        return Err(err("fragments are not allowed"));
    }
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest
        .split_at_checked(auth_end)
        .ok_or(err("bad authority"))?;
    if authority.contains('@') {
        return Err(err("userinfo is not supported"));
    }

    let default_port = if tls { 443 } else { 80 };
    let Authority { host, port, v6 } = authority_of(authority, default_port)?;

    let mut host_header = String::with_capacity(host.len() + 8);
    if v6 {
        host_header.push('[');
        host_header.push_str(&host);
        host_header.push(']');
    } else {
        host_header.push_str(&host);
    }
    if port != default_port {
        host_header.push(':');
        host_header.push_str(itoa(port.into()).as_str());
    }

    let mut t = String::with_capacity(target.len() + 1);
    if !target.starts_with('/') {
        t.push('/');
    }
    for b in target.bytes() {
        if target_byte_ok(b) {
            t.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            t.push('%');
            t.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            t.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
    Ok(WsUrl {
        host,
        port,
        tls,
        host_header,
        target: t,
    })
}

/// The host and port of a URL's authority (no userinfo).
pub(crate) struct Authority {
    /// Lowercased, IPv6 without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) v6: bool,
}

/// Parses `host[:port]` or `[v6][:port]`; an absent or empty port is `default_port`.
pub(crate) fn authority_of(
    authority: &str,
    default_port: u16,
) -> Result<Authority, HandshakeError> {
    let (host, port_str, v6) = if let Some(after) = authority.strip_prefix('[') {
        let (addr, after) = after.split_once(']').ok_or(err("unclosed IPv6 literal"))?;
        let valid = !addr.is_empty()
            && addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            && addr.contains(':');
        if !valid {
            return Err(err("bad IPv6 literal"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(err("junk after IPv6 literal"))?),
        };
        (addr, port, true)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        }
    };
    if host.is_empty() {
        return Err(err("empty host"));
    }
    if !v6 && !host.bytes().all(reg_name_byte_ok) {
        return Err(err("bad character in host"));
    }
    let port = match port_str {
        None | Some("") => default_port,
        Some(p) => {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("bad port"));
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(err("bad port")),
                Ok(n) => n,
            }
        }
    };

    Ok(Authority {
        host: host.to_ascii_lowercase(),
        port,
        v6,
    })
}

/// Decimal digits of `n`.
pub(crate) fn itoa(n: u64) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{n}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (String, u16, bool, String, String) {
        let u = parse(url).unwrap();
        (u.host, u.port, u.tls, u.host_header, u.target)
    }

    fn t(
        h: &str,
        p: u16,
        tls: bool,
        hh: &str,
        target: &str,
    ) -> (String, u16, bool, String, String) {
        (h.into(), p, tls, hh.into(), target.into())
    }

    #[test]
    fn good_urls() {
        assert_eq!(
            ok("ws://example.com"),
            t("example.com", 80, false, "example.com", "/")
        );
        assert_eq!(
            ok("WSS://Example.COM/chat"),
            t("example.com", 443, true, "example.com", "/chat")
        );
        assert_eq!(
            ok("ws://h:8080/a/b?x=1&y"),
            t("h", 8080, false, "h:8080", "/a/b?x=1&y")
        );
        assert_eq!(ok("ws://h:80/"), t("h", 80, false, "h", "/"));
        assert_eq!(ok("wss://h:80"), t("h", 80, true, "h:80", "/"));
        assert_eq!(ok("ws://h?q"), t("h", 80, false, "h", "/?q"));
        assert_eq!(ok("ws://h:/p"), t("h", 80, false, "h", "/p"));
        assert_eq!(
            ok("ws://[::1]:9001/x"),
            t("::1", 9001, false, "[::1]:9001", "/x")
        );
        assert_eq!(
            ok("wss://[2001:DB8::1]"),
            t("2001:db8::1", 443, true, "[2001:db8::1]", "/")
        );
        assert_eq!(
            ok("ws://[::ffff:1.2.3.4]:443"),
            t("::ffff:1.2.3.4", 443, false, "[::ffff:1.2.3.4]:443", "/")
        );
        assert_eq!(
            ok("ws://127.0.0.1:1/"),
            t("127.0.0.1", 1, false, "127.0.0.1:1", "/")
        );
        assert_eq!(
            ok("ws://h/a b\"é"),
            t("h", 80, false, "h", "/a%20b%22%C3%A9")
        );
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "http://h/",
            "h/",
            "ws:/h",
            "ws://",
            "ws:///p",
            "ws://:80/",
            "ws://u:p@h/",
            "ws://h/#f",
            "ws://h:0/",
            "ws://h:65536/",
            "ws://h:8x/",
            "ws://h:+80/",
            "ws://[::1/",
            "ws://[]/",
            "ws://[g::1]/",
            "ws://[::1]x/",
            "ws://[::1]:99999/",
            "ws://a:b:c/",
            "ws://ho st/",
            "ws://hé/",
        ] {
            assert!(
                matches!(parse(bad), Err(HandshakeError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
