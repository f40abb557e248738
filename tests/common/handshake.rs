//! Opening-handshake helpers shared by the `handshake_*` tests: the RFC 6455 sample nonce and
//! request, request builders, the `x-toy` extension, and a client with the fixed nonce.

use std::string::String;
use std::vec::Vec;

use wsproto::extension::{Extension, ExtensionError, ExtensionParam};
use wsproto::handshake::*;
use wsproto::{Config, Status};

/// Fills with the RFC 6455 §1.3 sample nonce, so the key is `dGhlIHNhbXBsZSBub25jZQ==`.
pub fn sample_nonce(buf: &mut [u8]) {
    for (b, s) in buf.iter_mut().zip(b"the sample nonce".iter().cycle()) {
        *b = *s;
    }
}

pub fn fixed_config() -> Config {
    Config::new().random(sample_nonce)
}

pub const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

pub fn server_receive(bytes: &[u8]) -> (ServerHandshake, Result<Status<()>, HandshakeError>) {
    let mut s = ServerHandshake::new(ServerOptions::default());
    let r = s.receive(bytes);
    (s, r)
}

pub fn request_with(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v
}

pub const GOOD: &[&str] = &[
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// GOOD with line `i` replaced (or removed when `line` is None).
pub fn good_with(i: usize, line: Option<&str>) -> Vec<u8> {
    let mut lines: Vec<&str> = GOOD.to_vec();
    match line {
        Some(l) => lines[i] = l,
        None => {
            lines.remove(i);
        }
    }
    request_with(&lines)
}

/// A toy extension: offers `x-toy; level=N`, accepts offers whose params are all `level=<digit>`,
/// answers `x-toy; level=N`; the client accepts a response with `level` only.
#[derive(Debug, Default)]
pub struct Toy {
    pub level: Option<u8>,
    pub accepted: Option<String>,
}

impl Extension for Toy {
    fn name(&self) -> &str {
        "x-toy"
    }
    fn fresh(&self) -> Box<dyn Extension> {
        Box::new(Toy {
            level: self.level,
            accepted: None,
        })
    }
    fn offer(&self) -> String {
        format!("x-toy; level={}", self.level.unwrap_or(1))
    }
    fn accept_response(&mut self, params: &[ExtensionParam<'_>]) -> Result<(), ExtensionError> {
        match params {
            [
                ExtensionParam {
                    name: "level",
                    value: Some(v),
                },
            ] if v.len() == 1 => {
                self.accepted = Some(String::from(*v));
                Ok(())
            }
            _ => Err(ExtensionError::Negotiation("bad x-toy response")),
        }
    }
    fn accept_offer(&mut self, params: &[ExtensionParam<'_>]) -> Option<String> {
        match params {
            [
                ExtensionParam {
                    name: "level",
                    value: Some(v),
                },
            ] if v.len() == 1 && v.as_bytes()[0].is_ascii_digit() => {
                self.accepted = Some(String::from(*v));
                Some(format!("x-toy; level={v}"))
            }
            _ => None,
        }
    }
    fn rsv_bits(&self) -> u8 {
        0
    }
    fn decode_start(&mut self, _: u8) -> Result<bool, ExtensionError> {
        Ok(false)
    }
    fn decode(
        &mut self,
        _: &[u8],
        _: bool,
        _: &mut Vec<u8>,
        _: usize,
    ) -> Result<(), ExtensionError> {
        Ok(())
    }
    fn encode_start(&mut self, _: Option<usize>, _: bool) -> Option<u8> {
        None
    }
    fn encode(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>) -> Result<(), ExtensionError> {
        Ok(())
    }
}

/// A client for `url` whose key comes from the sample nonce.
pub fn client(url: &str, options: ClientOptions) -> ClientHandshake {
    ClientHandshake::new(url, options.config(fixed_config())).unwrap()
}

/// The server's answer to the sample-nonce client.
pub const GOOD_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
\r\n";

/// [`GOOD_101`] with one more header line.
pub fn with_header(h: &str) -> Vec<u8> {
    let mut v = GOOD_101[..GOOD_101.len() - 2].to_vec();
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(b"\r\n\r\n");
    v
}
