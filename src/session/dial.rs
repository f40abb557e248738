//! The client's opening handshake as steps: open a transport to the URL's host, send the
//! request, read the answer, follow redirects, all within a deadline per attempt.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::{Error, Misuse, Session};
use crate::Instant;
use crate::handshake::{ClientHandshake, ClientOptions, HandshakeError, Proxy, Response, Tunnel};
#[cfg(feature = "rustls")]
use alloc::sync::Arc;

/// Read size while the response comes in.
const RESPONSE_CHUNK: usize = 2048;

/// Client options of the adapters: the handshake's [`ClientOptions`] plus a handshake timeout
/// and redirects. `Clone` (extensions are cloned fresh).
///
/// ```
/// use core::time::Duration;
/// use wsproto::handshake::ClientOptions;
/// use wsproto::session::ConnectOptions;
/// let options = ConnectOptions::new(ClientOptions::default().protocol("chat"))
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .max_redirects(3);
/// let again = options.clone();
/// # let _ = again;
/// ```
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    client: ClientOptions,
    handshake_timeout: Option<Duration>,
    max_redirects: usize,
    proxy: Option<Proxy>,
    #[cfg(feature = "rustls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self::new(ClientOptions::default())
    }
}

impl From<ClientOptions> for ConnectOptions {
    fn from(options: ClientOptions) -> Self {
        Self::new(options)
    }
}

impl ConnectOptions {
    /// Default handshake timeout of a client (covers opening the transport and the HTTP
    /// exchange, per attempt).
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

    /// These handshake options, a 30 s handshake timeout, no redirects.
    pub fn new(options: ClientOptions) -> Self {
        ConnectOptions {
            client: options,
            handshake_timeout: Some(Self::DEFAULT_HANDSHAKE_TIMEOUT),
            max_redirects: 0,
            proxy: None,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Connects through this HTTP proxy with `CONNECT` (`ws://` and `wss://` alike; TLS runs
    /// end to end inside the tunnel). A refused tunnel is
    /// [`HandshakeError::ProxyRefused`](crate::handshake::HandshakeError::ProxyRefused),
    /// never a direct connection. Redirects are followed through the same proxy.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// The TLS configuration for `wss://` (feature `rustls`): trust roots, client
    /// certificates, protocol versions. Default:
    /// [`tls::default_client_config`](crate::tls::default_client_config), whose roots come from the `webpki-roots` and/or
    /// `native-roots` features.
    #[cfg(feature = "rustls")]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The TLS configuration set with [`tls`](Self::tls), if any.
    #[cfg(feature = "rustls")]
    pub fn get_tls(&self) -> Option<&Arc<rustls::ClientConfig>> {
        self.tls.as_ref()
    }

    /// Bound on opening the transport plus the opening handshake (per attempt). Default
    /// 30 s; `None` waits forever.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Most redirects followed (301, 302, 303, 307, 308 with a `Location`). Default 0: a
    /// redirect is returned as [`Error::Handshake`] with the response.
    pub fn max_redirects(mut self, count: usize) -> Self {
        self.max_redirects = count;
        self
    }

    /// The handshake options.
    pub fn client(&self) -> &ClientOptions {
        &self.client
    }

    /// The handshake timeout.
    pub fn get_handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }
}

/// Where a client connects: from the URL (or a redirect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the URL was `wss://` (the stream must be TLS).
    pub tls: bool,
    /// The URL.
    pub url: String,
    /// The HTTP proxy to tunnel through ([`ConnectOptions::proxy`]), if any.
    pub proxy: Option<Proxy>,
}

impl Target {
    /// Where to open TCP: the proxy if there is one, else the URL's host and port (owned,
    /// so that an async connector can take it: `TcpStream::connect(target.address())`).
    pub fn address(&self) -> (String, u16) {
        match &self.proxy {
            Some(proxy) => (String::from(proxy.host()), proxy.port()),
            None => (self.host.clone(), self.port),
        }
    }

    /// The `CONNECT` exchange to run over a freshly opened transport, if there is a proxy.
    pub fn tunnel(&self) -> Option<Tunnel> {
        self.proxy
            .as_ref()
            .map(|proxy| Tunnel::to(proxy, &self.host, self.port))
    }
}

/// What the executor of a [`Dialing`] does next.
#[must_use]
#[derive(Debug)]
pub enum DialStep<'a> {
    /// Open a new transport to this target (dropping any earlier one), then
    /// [`Dialing::connected`].
    Connect(&'a Target),
    /// Write these bytes (the request), then [`Dialing::wrote`].
    Write(&'a [u8]),
    /// Flush, then [`Dialing::flushed`].
    Flush,
    /// Read into this buffer, then [`Dialing::received`].
    Read(&'a mut [u8]),
    /// The server accepted: take the session with [`Dialing::into_session`].
    Connected,
    /// The handshake failed.
    Failed(Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connect,
    Exchange,
    Done,
}

/// The client's opening handshake, sans-IO: the executor opens transports, writes, reads and
/// waits as told, and never past [`deadline`](Dialing::deadline).
pub struct Dialing {
    options: ConnectOptions,
    url: String,
    target: Target,
    handshake: ClientHandshake,
    phase: Phase,
    followed: usize,
    buf: Vec<u8>,
    needs_flush: bool,
    deadline: Option<Instant>,
    error: Option<Error>,
}

impl fmt::Debug for Dialing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialing")
            .field("url", &self.url)
            .field("phase", &self.phase)
            .field("followed", &self.followed)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Dialing {
    /// Dials `url`: the first step opens a transport to its host.
    pub fn new(url: &str, options: impl Into<ConnectOptions>) -> Result<Self, Error> {
        let options = options.into();
        let handshake = ClientHandshake::new(url, options.client.clone())?;
        Ok(Dialing {
            target: target_of(url, &handshake, &options),
            url: String::from(url),
            handshake,
            options,
            phase: Phase::Connect,
            followed: 0,
            buf: Vec::new(),
            needs_flush: false,
            deadline: None,
            error: None,
        })
    }

    /// Dials `url` over a transport that is already open (TLS included): no connect step
    /// and no redirects (a redirect is returned as an error with the response).
    pub fn over_transport(
        now: Instant,
        url: &str,
        options: impl Into<ConnectOptions>,
    ) -> Result<Self, Error> {
        let mut dialing = Self::new(url, options.into().max_redirects(0))?;
        dialing.connected(now);
        Ok(dialing)
    }

    /// The URL being dialed (after redirects, the last one).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// When this attempt times out (the executor bounds every wait, the connect included).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What to do next.
    pub fn step(&mut self, now: Instant) -> DialStep<'_> {
        if let Some(error) = self.error.take() {
            self.phase = Phase::Done;
            crate::trace::event!(
                INFO,
                "handshake failed",
                role = "client",
                url = self.url.as_str(),
                status = error.response().map(|r| r.status),
                error = %error,
            );
            return DialStep::Failed(error);
        }
        if self.phase == Phase::Done {
            return DialStep::Failed(Error::Misuse(Misuse::HandshakeOver));
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.phase = Phase::Done;
            crate::trace::event!(
                INFO,
                "handshake timed out",
                role = "client",
                url = self.url.as_str(),
                timeout = "handshake",
            );
            return DialStep::Failed(Error::HandshakeTimeout);
        }
        match self.phase {
            Phase::Connect => {
                if self.deadline.is_none() {
                    self.deadline = self.options.handshake_timeout.map(|t| now + t);
                }
                DialStep::Connect(&self.target)
            }
            Phase::Exchange => {
                if !self.handshake.poll_transmit().is_empty() {
                    return DialStep::Write(self.handshake.poll_transmit());
                }
                if self.needs_flush {
                    return DialStep::Flush;
                }
                if self.handshake.response().is_some() {
                    self.phase = Phase::Done;
                    return DialStep::Connected;
                }
                if self.buf.len() < RESPONSE_CHUNK {
                    self.buf = vec![0; RESPONSE_CHUNK];
                }
                DialStep::Read(&mut self.buf)
            }
            Phase::Done => DialStep::Failed(Error::Misuse(Misuse::HandshakeOver)),
        }
    }

    /// The transport of [`DialStep::Connect`] is open.
    pub fn connected(&mut self, now: Instant) {
        if self.deadline.is_none() {
            self.deadline = self.options.handshake_timeout.map(|t| now + t);
        }
        if self.phase == Phase::Connect {
            self.phase = Phase::Exchange;
        }
    }

    /// `n` bytes of [`DialStep::Write`] were written.
    pub fn wrote(&mut self, n: usize) {
        self.handshake.advance_transmit(n);
        self.needs_flush = true;
    }

    /// The transport was flushed.
    pub fn flushed(&mut self) {
        self.needs_flush = false;
    }

    /// `n` bytes were read into the buffer of [`DialStep::Read`]; 0 is the end of the stream.
    pub fn received(&mut self, now: Instant, n: usize) {
        if self.phase != Phase::Exchange {
            return;
        }
        let result = if n == 0 {
            self.handshake
                .receive_eof()
                .and(Err(HandshakeError::UnexpectedEof))
        } else {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.handshake.receive(bytes).map(|_| ())
        };
        if let Err(e) = result {
            self.buf = Vec::new();
            match self.redirect(e) {
                Ok(url) => self.restart(now, url),
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// The next URL for a redirect to follow, or the error to return.
    fn redirect(&mut self, error: HandshakeError) -> Result<String, Error> {
        let HandshakeError::UnexpectedResponse(response) = error else {
            return Err(Error::Handshake(error));
        };
        if !matches!(response.status, 301 | 302 | 303 | 307 | 308)
            || self.options.max_redirects == 0
        {
            return Err(Error::Handshake(HandshakeError::UnexpectedResponse(
                response,
            )));
        }
        if self.followed >= self.options.max_redirects {
            return Err(Error::TooManyRedirects(response));
        }
        let Some(next) = response
            .location()
            .and_then(|location| resolve_location(&self.target, location))
        else {
            return Err(Error::BadRedirect(response));
        };
        self.followed += 1;
        Ok(next)
    }

    /// A new attempt at `url`: a new transport, a new request, a new deadline.
    fn restart(&mut self, _now: Instant, url: String) {
        match ClientHandshake::new(&url, self.options.client.clone()) {
            Ok(handshake) => {
                self.target = target_of(&url, &handshake, &self.options);
                self.handshake = handshake;
                self.url = url;
                self.phase = Phase::Connect;
                self.deadline = None;
                self.needs_flush = false;
            }
            Err(e) => self.error = Some(Error::Handshake(e)),
        }
    }

    /// After [`DialStep::Connected`]: the session and the server's 101 response.
    pub fn into_session(self, now: Instant) -> Result<(Session, Response), Error> {
        let version = self.options.client.version;
        let (conn, response) = self.handshake.into_connection(now)?;
        let protocol = response.protocol().map(String::from);
        let mut session = Session::with_protocol(conn, protocol);
        session.set_version(version);
        crate::trace::event!(
            DEBUG,
            "handshake done",
            role = "client",
            url = self.url.as_str(),
            status = response.status,
            protocol = session.protocol(),
        );
        Ok((session, response))
    }
}

fn target_of(url: &str, handshake: &ClientHandshake, options: &ConnectOptions) -> Target {
    Target {
        proxy: options.proxy.clone(),
        host: String::from(handshake.host()),
        port: handshake.port(),
        tls: handshake.is_tls(),
        url: String::from(url),
    }
}

/// Resolves a `Location` against the current target into a `ws://` or `wss://` URL.
fn resolve_location(target: &Target, location: &str) -> Option<String> {
    let location = location.trim();
    let scheme_end = location.find("://");
    if let Some(end) = scheme_end {
        let (scheme, rest) = location.split_at_checked(end)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            _ => return None,
        };
        return Some(format!("{scheme}{rest}"));
    }
    let scheme = if target.tls { "wss" } else { "ws" };
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.to_string()
        };
        return Some(format!("{scheme}://{host}:{}{location}", target.port));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(tls: bool) -> Target {
        Target {
            host: "example.com".into(),
            port: 8080,
            tls,
            url: String::new(),
            proxy: None,
        }
    }

    #[test]
    fn locations_resolve() {
        let t = target(false);
        assert_eq!(
            resolve_location(&t, "ws://a/b").as_deref(),
            Some("ws://a/b")
        );
        assert_eq!(
            resolve_location(&t, "HTTPS://a:1/b?c").as_deref(),
            Some("wss://a:1/b?c")
        );
        assert_eq!(resolve_location(&t, "http://a").as_deref(), Some("ws://a"));
        assert_eq!(resolve_location(&t, "//b/c").as_deref(), Some("ws://b/c"));
        assert_eq!(
            resolve_location(&target(true), "//b/c").as_deref(),
            Some("wss://b/c")
        );
        assert_eq!(
            resolve_location(&t, "/x?y").as_deref(),
            Some("ws://example.com:8080/x?y")
        );
        let v6 = Target {
            host: "::1".into(),
            port: 9,
            tls: false,
            url: String::new(),
            proxy: None,
        };
        assert_eq!(
            resolve_location(&v6, "/x").as_deref(),
            Some("ws://[::1]:9/x")
        );
        assert_eq!(resolve_location(&t, "ftp://a/b"), None);
        assert_eq!(resolve_location(&t, "relative"), None);
    }
}
