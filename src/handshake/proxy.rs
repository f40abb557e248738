//! HTTP CONNECT proxies for clients (RFC 9110 §9.3.6), sans-IO.
//!
//! A [`Proxy`] is the client option (`http://[user:password@]host[:port]`, port 8080 by
//! default). For each connection attempt the executor opens TCP to the proxy, writes the
//! [`Tunnel`]'s request, feeds the answer to [`Tunnel::receive`] until it is complete, and
//! then talks through the tunnel: TLS first for `wss://`, then the WebSocket handshake. A
//! refusal (any status but 2xx) is [`HandshakeError::ProxyRefused`] with the proxy's
//! response; there is no fallback to a direct connection.
//!
//! ```
//! use wsproto::Status;
//! use wsproto::handshake::{Proxy, Tunnel};
//!
//! let proxy = Proxy::new("http://alice:s3cret@127.0.0.1:3128")?;
//! let mut tunnel = Tunnel::new(&proxy, "example.com", 443)?;
//! assert_eq!(
//!     tunnel.poll_transmit(),
//!     b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
//!       Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
//! );
//! tunnel.advance_transmit(tunnel.poll_transmit().len());
//! assert_eq!(tunnel.receive(b"HTTP/1.1 200 Connection established\r\n\r\n")?, Status::Complete(()));
//! # Ok::<(), wsproto::handshake::HandshakeError>(())
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::url::{Authority, authority_of, itoa};
use super::{HandshakeError, HeadReader, Response, map_httparse, own_headers};
use crate::Status;

/// Most bytes of a proxy's response head we read.
const MAX_HEAD: usize = 8 * 1024;
/// Most header fields in a proxy's response.
const MAX_HEADERS: usize = 64;

/// An HTTP proxy that clients tunnel through with `CONNECT`.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Basic base64(user:password)`, if credentials were given.
    authorization: Option<String>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl Proxy {
    /// Parses `http://[user[:password]@]host[:port][/]` (port 8080 by default; user and
    /// password percent-decoded). Only `http://` proxies are supported: the `CONNECT` request
    /// and the proxy's answer travel in the clear (what goes through the tunnel, `wss://`
    /// included, is encrypted end to end).
    pub fn new(url: &str) -> Result<Proxy, HandshakeError> {
        let bad = HandshakeError::InvalidUrl;
        let (scheme, rest) = url.split_once("://").ok_or(bad("proxy: missing scheme"))?;
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("proxy: scheme must be http"));
        }
        let authority = match rest.find(['/', '?', '#']) {
            Some(end) if rest.get(end..) == Some("/") => rest.get(..end).unwrap_or(rest),
            Some(_) => return Err(bad("proxy: a path is not allowed")),
            None => rest,
        };
        let (userinfo, authority) = match authority.rsplit_once('@') {
            Some((userinfo, authority)) => (Some(userinfo), authority),
            None => (None, authority),
        };
        let Authority { host, port, .. } = authority_of(authority, 8080)?;
        let proxy = Proxy {
            host,
            port,
            authorization: None,
        };
        Ok(match userinfo {
            None => proxy,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let user = percent_decode(user).ok_or(bad("proxy: bad user name"))?;
                let password = percent_decode(password).ok_or(bad("proxy: bad password"))?;
                proxy.basic_auth(&user, &password)
            }
        })
    }

    /// Authenticates with HTTP Basic (`Proxy-Authorization`), replacing credentials from the
    /// URL.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        let mut pair = String::with_capacity(user.len() + password.len() + 1);
        pair.push_str(user);
        pair.push(':');
        pair.push_str(password);
        let mut value = String::from("Basic ");
        BASE64.encode_string(pair.as_bytes(), &mut value);
        self.authorization = Some(value);
        self
    }

    /// The proxy's host (IPv6 without brackets): where the executor opens TCP.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether credentials will be sent.
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
    }
}

/// A host as a URL parser leaves it: a registered name, an IPv4 address or an IPv6 address
/// (without brackets).
fn valid_host(host: &str) -> bool {
    let v6 = host.contains(':')
        && host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    !host.is_empty() && (v6 || host.bytes().all(super::url::reg_name_byte_ok))
}

/// One `CONNECT` exchange with a [`Proxy`]: the request to write, then the answer to read.
#[derive(Debug)]
pub struct Tunnel {
    request: Vec<u8>,
    written: usize,
    head: HeadReader,
    done: bool,
}

impl Tunnel {
    /// A tunnel to `host:port` (IPv6 without brackets) through `proxy`. A host that is not
    /// a registered name or an IPv6 address (empty, or with bytes such as CR, LF or spaces
    /// that would break the request line) is [`HandshakeError::InvalidUrl`].
    pub fn new(proxy: &Proxy, host: &str, port: u16) -> Result<Tunnel, HandshakeError> {
        if !valid_host(host) {
            return Err(HandshakeError::InvalidUrl("proxy: bad target host"));
        }
        Ok(Tunnel::to(proxy, host, port))
    }

    /// [`Tunnel::new`] for a host taken from a parsed URL (already valid).
    pub(crate) fn to(proxy: &Proxy, host: &str, port: u16) -> Tunnel {
        let mut authority = String::with_capacity(host.len() + 8);
        if host.contains(':') {
            authority.push('[');
            authority.push_str(host);
            authority.push(']');
        } else {
            authority.push_str(host);
        }
        authority.push(':');
        authority.push_str(&itoa(port.into()));
        let mut request = Vec::with_capacity(128);
        request.extend_from_slice(b"CONNECT ");
        request.extend_from_slice(authority.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        request.extend_from_slice(authority.as_bytes());
        request.extend_from_slice(b"\r\n");
        if let Some(value) = &proxy.authorization {
            super::write_header(&mut request, "Proxy-Authorization", value.as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        Tunnel {
            request,
            written: 0,
            head: HeadReader::new(MAX_HEAD),
            done: false,
        }
    }

    /// The request bytes still to write.
    pub fn poll_transmit(&self) -> &[u8] {
        self.request.get(self.written..).unwrap_or_default()
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.written = self.written.saturating_add(n).min(self.request.len());
    }

    /// Feeds bytes of the proxy's answer. `Complete(())`: the tunnel is open (a 2xx answer).
    /// A proxy must not send anything after its answer before the client speaks, so extra
    /// bytes are an error, as is a refusal ([`HandshakeError::ProxyRefused`]) or the end of the
    /// stream (feed an empty slice: [`HandshakeError::UnexpectedEof`]).
    pub fn receive(&mut self, input: &[u8]) -> Result<Status<()>, HandshakeError> {
        if self.done {
            return Err(HandshakeError::InvalidState);
        }
        if input.is_empty() {
            return Err(HandshakeError::UnexpectedEof);
        }
        let Some(n) = self.head.feed(input)? else {
            return Ok(Status::Partial);
        };
        self.done = true;
        let mut slots = self.head.header_slots(MAX_HEADERS);
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(self.head.head()).map_err(map_httparse)? {
            httparse::Status::Complete(_) => {}
            httparse::Status::Partial => return Err(HandshakeError::Malformed("proxy answer")),
        }
        let status = parsed.code.unwrap_or(0);
        if !(200..300).contains(&status) {
            // What follows is the refusal's body (an error page); the stream is dropped.
            return Err(HandshakeError::ProxyRefused(Box::new(Response {
                status,
                reason: String::from(parsed.reason.unwrap_or("")),
                headers: own_headers(parsed.headers),
                body: Vec::new(),
            })));
        }
        if n < input.len() {
            return Err(HandshakeError::Malformed(
                "proxy sent bytes after its CONNECT answer",
            ));
        }
        Ok(Status::Complete(()))
    }
}

/// `%XX` decoding of URL userinfo; `None` for a bad escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn proxy_urls() {
        let p = Proxy::new("http://127.0.0.1:3128").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.has_credentials()),
            ("127.0.0.1", 3128, false)
        );
        let p = Proxy::new("HTTP://Proxy.Example/").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.example", 8080));
        let p = Proxy::new("http://[::1]:3128").unwrap();
        assert_eq!((p.host(), p.port()), ("::1", 3128));
        let p = Proxy::new("http://us%40er:p%3Ass@h:1").unwrap();
        assert_eq!(
            p,
            Proxy::new("http://h:1")
                .unwrap()
                .basic_auth("us@er", "p:ss")
        );
        for bad in [
            "https://h:1",
            "socks5://h:1",
            "h:1",
            "http://h:1/path",
            "http://h:99999",
            "http://u%zz@h",
            "http://",
        ] {
            assert!(Proxy::new(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Proxy::new("http://u:pw@h").unwrap()).contains("pw"));
    }

    #[test]
    fn connect_request_bytes() {
        let t = Tunnel::new(&Proxy::new("http://h:1").unwrap(), "::1", 9001).unwrap();
        assert_eq!(
            t.poll_transmit(),
            b"CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\n\r\n"
        );
    }

    #[test]
    fn answers() {
        let proxy = Proxy::new("http://h:1").unwrap();
        let mut t = Tunnel::new(&proxy, "e", 80).unwrap();
        assert_eq!(t.receive(b"HTTP/1.0 200 OK\r\n").unwrap(), Status::Partial);
        assert_eq!(t.receive(b"Via: x\r\n\r\n").unwrap(), Status::Complete(()));
        assert_eq!(t.receive(b"x"), Err(HandshakeError::InvalidState));

        let mut t = Tunnel::new(&proxy, "e", 80).unwrap();
        match t.receive(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
        ) {
            Err(HandshakeError::ProxyRefused(r)) => {
                assert_eq!(
                    (r.status, r.reason.as_str()),
                    (407, "Proxy Authentication Required")
                );
                assert_eq!(r.header("proxy-authenticate"), Some("Basic"));
            }
            other => panic!("{other:?}"),
        }
        let mut t = Tunnel::new(&proxy, "e", 80).unwrap();
        assert!(matches!(
            t.receive(b"HTTP/1.1 200 OK\r\n\r\nX"),
            Err(HandshakeError::Malformed(_))
        ));
        let mut t = Tunnel::new(&proxy, "e", 80).unwrap();
        assert_eq!(t.receive(b""), Err(HandshakeError::UnexpectedEof));
        let mut t = Tunnel::new(&proxy, "e", 80).unwrap();
        assert_eq!(
            t.receive(&[b'a'; MAX_HEAD + 1]),
            Err(HandshakeError::HeadersTooLarge)
        );
    }
}
