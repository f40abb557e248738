//! Cookies set with the 101 response (WebSocket-Node's `Cookie` with its attributes): pass
//! [`Cookie::header`] as an `Accept` header.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::fmt::Write as _;

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (needs `Secure` in browsers).
    None,
}

/// A `Set-Cookie` value.
///
/// ```
/// use wsproto::server::{Cookie, SameSite};
/// let cookie = Cookie::new("session", "abc123")
///     .path("/")
///     .max_age(3600)
///     .secure(true)
///     .http_only(true)
///     .same_site(SameSite::Strict);
/// assert_eq!(
///     cookie.header(),
///     ("Set-Cookie".to_owned(),
///      "session=abc123; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict".to_owned())
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    expires: Option<String>,
    max_age: Option<u64>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A cookie with this name and value (characters that are not allowed in a cookie are
    /// left out).
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Cookie {
            name: clean(&name.into(), true),
            value: clean(&value.into(), false),
            ..Cookie::default()
        }
    }
    /// `Path`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(clean(&path.into(), false));
        self
    }
    /// `Domain`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(clean(&domain.into(), false));
        self
    }
    /// `Expires`, an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`).
    pub fn expires(mut self, date: impl Into<String>) -> Self {
        self.expires = Some(clean(&date.into(), false));
        self
    }
    /// `Max-Age` in seconds.
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }
    /// `Secure`.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }
    /// `HttpOnly`.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }
    /// `SameSite`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// The `Set-Cookie` header, for [`Accept::headers`](crate::handshake::Accept::headers).
    pub fn header(&self) -> (String, String) {
        let mut v = format!("{}={}", self.name, self.value);
        if let Some(p) = &self.path {
            let _ = write!(v, "; Path={p}");
        }
        if let Some(d) = &self.domain {
            let _ = write!(v, "; Domain={d}");
        }
        if let Some(e) = &self.expires {
            let _ = write!(v, "; Expires={e}");
        }
        if let Some(m) = self.max_age {
            let _ = write!(v, "; Max-Age={m}");
        }
        if self.secure {
            v.push_str("; Secure");
        }
        if self.http_only {
            v.push_str("; HttpOnly");
        }
        if let Some(s) = self.same_site {
            v.push_str(match s {
                SameSite::Strict => "; SameSite=Strict",
                SameSite::Lax => "; SameSite=Lax",
                SameSite::None => "; SameSite=None",
            });
        }
        ("Set-Cookie".to_owned(), v)
    }
}

/// Keeps the characters a cookie name (a token) or value/attribute may hold.
fn clean(s: &str, token: bool) -> String {
    s.chars()
        .filter(|c| {
            c.is_ascii_graphic()
                && !matches!(c, ';' | ',' | '"' | '\\')
                && (!token
                    || !matches!(
                        c,
                        '=' | '(' | ')' | '<' | '>' | '@' | ':' | '/' | '[' | ']' | '?' | '{' | '}'
                    ))
        })
        .collect()
}
