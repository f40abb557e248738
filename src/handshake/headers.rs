//! Header-value grammar (RFC 7230 §3.2.6, §7; RFC 6455 §9.1): token lists, the
//! `Sec-WebSocket-Extensions` list and cookies.
//!
//! Every parser here walks its input once, left to right, with no backtracking, so its cost is
//! linear in the header size whatever the peer sends (the lesson of ws CVE-2021-32640, a
//! regex that went quadratic on hostile `Sec-WebSocket-Protocol` values).

use alloc::string::String;
use alloc::vec::Vec;

use super::ExtensionOffer;

/// `tchar` of RFC 7230 §3.2.6.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty RFC 7230 token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// A header value that may go on the wire: no CR, LF or NUL (RFC 7230 §3.2).
pub(crate) fn is_valid_value(v: &[u8]) -> bool {
    !v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

/// The elements of a comma-separated list (`#element`), trimmed, empty ones skipped
/// (RFC 7230 §7 asks recipients to accept empty elements).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a token list (e.g. `Connection: keep-alive, Upgrade`) contains `token`, ignoring case.
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    list_elements(value).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses a token list such as `Sec-WebSocket-Protocol: chat, superchat`, appending to `out`.
/// `None` if an element is not a token.
pub(crate) fn parse_token_list(value: &[u8], out: &mut Vec<String>) -> Option<()> {
    for e in list_elements(value) {
        if !is_token(e) {
            return None;
        }
        out.push(String::from(core::str::from_utf8(e).ok()?));
    }
    Some(())
}

/// A small cursor over one header value.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn skip_ows(&mut self) {
        while let [b, rest @ ..] = self.rest {
            if !is_ows(*b) {
                break;
            }
            self.rest = rest;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn bump(&mut self) {
        if let [_, rest @ ..] = self.rest {
            self.rest = rest;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let n = self.rest.iter().take_while(|&&b| is_tchar(b)).count();
        let (tok, rest) = self.rest.split_at_checked(n)?;
        if tok.is_empty() {
            return None;
        }
        self.rest = rest;
        core::str::from_utf8(tok).ok()
    }

    /// A quoted-string (the opening quote is next), unescaped.
    fn quoted(&mut self) -> Option<String> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let [b, rest @ ..] = self.rest else {
                return None; // unterminated
            };
            self.rest = rest;
            match *b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let [c, rest @ ..] = self.rest else {
                        return None;
                    };
                    self.rest = rest;
                    out.push(*c);
                }
                c if c == b'\t' || c == b' ' || c >= 0x21 && c != 0x7f => out.push(c),
                _ => return None,
            }
        }
    }
}

/// Parses one `Sec-WebSocket-Extensions` value (RFC 6455 §9.1) and appends its elements:
///
/// ```text
/// extension-list = 1#( extension-token *( OWS ";" OWS extension-param ) )
/// extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
/// ```
///
/// Empty list elements are skipped. `None` if the value is malformed.
pub(crate) fn parse_extensions(value: &[u8], out: &mut Vec<ExtensionOffer>) -> Option<()> {
    let mut c = Cursor { rest: value };
    loop {
        c.skip_ows();
        match c.peek() {
            None => return Some(()),
            Some(b',') => {
                c.bump();
                continue;
            }
            Some(_) => {}
        }
        let name = c.token()?;
        let mut offer = ExtensionOffer {
            name: String::from(name),
            params: Vec::new(),
        };
        loop {
            c.skip_ows();
            match c.peek() {
                None => {
                    out.push(offer);
                    return Some(());
                }
                Some(b',') => {
                    c.bump();
                    out.push(offer);
                    break;
                }
                Some(b';') => {
                    c.bump();
                    c.skip_ows();
                    let pname = String::from(c.token()?);
                    c.skip_ows();
                    let value = if c.peek() == Some(b'=') {
                        c.bump();
                        c.skip_ows();
                        if c.peek() == Some(b'"') {
                            Some(c.quoted()?)
                        } else {
                            Some(String::from(c.token()?))
                        }
                    } else {
                        None
                    };
                    offer.params.push((pname, value));
                }
                Some(_) => return None,
            }
        }
    }
}

/// The cookies of one `Cookie` value: `name=value` pairs split on `;`, trimmed; a pair without
/// `=` yields an empty value; empty pairs are skipped.
pub(crate) fn cookie_pairs(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (p, ""),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ext(value: &str) -> Option<Vec<ExtensionOffer>> {
        let mut out = Vec::new();
        parse_extensions(value.as_bytes(), &mut out).map(|()| out)
    }

    fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).into(), v.map(String::from)))
                .collect(),
        }
    }

    #[test]
    fn extensions_grammar() {
        assert_eq!(ext(""), Some(vec![]));
        assert_eq!(ext(" , ,"), Some(vec![]));
        assert_eq!(
            ext("permessage-deflate; client_max_window_bits, permessage-deflate"),
            Some(vec![
                offer("permessage-deflate", &[("client_max_window_bits", None)]),
                offer("permessage-deflate", &[]),
            ])
        );
        assert_eq!(
            ext("foo;a=1 ;b = \"x\\\"y, z\";c,bar"),
            Some(vec![
                offer(
                    "foo",
                    &[("a", Some("1")), ("b", Some("x\"y, z")), ("c", None)]
                ),
                offer("bar", &[]),
            ])
        );
        for bad in [
            "foo;",
            "foo;=1",
            "foo;a=",
            "foo;a=\"x",
            "foo bar",
            "foo;a=1 2",
            "\"foo\"",
            "foo;a=@",
        ] {
            assert_eq!(ext(bad), None, "{bad}");
        }
    }

    #[test]
    fn token_lists() {
        assert!(list_contains(b"keep-alive, UPGRADE", "upgrade"));
        assert!(list_contains(b" ,Upgrade,", "upgrade"));
        assert!(!list_contains(b"upgrade2", "upgrade"));
        let mut v = Vec::new();
        assert_eq!(
            parse_token_list(b"chat, superchat ,, v2.x", &mut v),
            Some(())
        );
        assert_eq!(v, ["chat", "superchat", "v2.x"]);
        assert_eq!(parse_token_list(b"a b", &mut v), None);
    }

    #[test]
    fn cookies() {
        let c: Vec<_> = cookie_pairs("a=1; b = 2;;c; d=x=y").collect();
        assert_eq!(c, [("a", "1"), ("b", "2"), ("c", ""), ("d", "x=y")]);
    }

    #[test]
    fn hostile_values_are_linear() {
        // 1 MiB of separators and half-open quotes parse in one pass (a timing bug would hang).
        let v = ",".repeat(1 << 20);
        assert_eq!(ext(&v), Some(vec![]));
        let v = alloc::format!("a;b=\"{}", "\\x".repeat(1 << 19));
        assert_eq!(ext(&v), None);
        let v = alloc::format!("{}x", " ".repeat(1 << 20));
        let mut out = Vec::new();
        assert_eq!(parse_token_list(v.as_bytes(), &mut out), Some(()));
    }
}
