//! Routes (WebSocket-Node's `WebSocketRouter`): handlers mounted by path pattern and
//! subprotocol. The first route whose pattern matches the request path and which accepts one
//! of the offered subprotocols (or needs none) takes the connection; no match is a 404.

// The crate is no_std; this layer is std-only.
#[allow(unused_imports)]
use std::{borrow::ToOwned, boxed::Box, format, string::String, vec, vec::Vec};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Client;

/// A route's handler: runs once per connection, for as long as it likes.
pub(crate) type Handler<U> =
    Arc<dyn Fn(Client<U>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A path pattern: `/chat` (exact), `/rooms/:id` (a named segment), `/static/*` (a prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    rest: bool,
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let mut segments = Vec::new();
        let mut rest = false;
        for part in text.trim_start_matches('/').split('/') {
            if part == "*" {
                rest = true;
                break;
            }
            if part.is_empty() {
                continue;
            }
            segments.push(match part.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(part.to_owned()),
            });
        }
        Pattern {
            segments,
            rest,
            text: text.to_owned(),
        }
    }

    /// The named segments, if `path` matches.
    fn matches(&self, path: &str) -> Option<HashMap<String, String>> {
        let mut parts = path
            .trim_start_matches('/')
            .split('/')
            .filter(|p| !p.is_empty());
        let mut params = HashMap::new();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), part.to_owned());
                }
            }
        }
        if !self.rest && parts.next().is_some() {
            return None;
        }
        Some(params)
    }
}

struct Route<U> {
    pattern: Pattern,
    protocols: Vec<String>,
    handler: Handler<U>,
}

/// Handlers by path and subprotocol.
///
/// ```
/// use wsproto::server::Router;
/// let router: Router = Router::new()
///     .route("/echo", |mut client| async move {
///         while let Some(Ok(message)) = client.recv().await {
///             let _ = client.send(message);
///         }
///     })
///     .route_protocols("/chat/:room", ["chat.v2", "chat.v1"], |client| async move {
///         let _room = client.param("room").map(String::from);
///     });
/// assert_eq!(router.len(), 2);
/// ```
pub struct Router<U = ()> {
    routes: Vec<Route<U>>,
}

impl<U> Default for Router<U> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

impl<U> std::fmt::Debug for Router<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| (&r.pattern.text, &r.protocols)))
            .finish()
    }
}

/// A route chosen for a request.
pub(crate) struct Matched<U> {
    pub(crate) handler: Handler<U>,
    pub(crate) protocol: Option<String>,
    pub(crate) params: HashMap<String, String>,
}

impl Router<()> {
    /// No routes (every upgrade gets 404), for a server without per-connection data
    /// (`Router::<U>::default()` for one with).
    pub fn new() -> Self {
        Router::default()
    }
}

impl<U: Send + Sync + 'static> Router<U> {
    /// Mounts `handler` on `pattern`, for any subprotocol (none selected).
    pub fn route<F, Fut>(self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Client<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.route_protocols(pattern, [] as [&str; 0], handler)
    }

    /// Mounts `handler` on `pattern` for these subprotocols, in the server's order of
    /// preference: the first one the client offered is selected; a client offering none of
    /// them does not match this route.
    pub fn route_protocols<F, Fut, P>(mut self, pattern: &str, protocols: P, handler: F) -> Self
    where
        F: Fn(Client<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        P: IntoIterator,
        P::Item: Into<String>,
    {
        let handler: Handler<U> = Arc::new(move |client| Box::pin(handler(client)));
        self.routes.push(Route {
            pattern: Pattern::parse(pattern),
            protocols: protocols.into_iter().map(Into::into).collect(),
            handler,
        });
        self
    }

    /// Removes every route mounted on exactly this pattern (WebSocket-Node `unmount`).
    pub fn unmount(mut self, pattern: &str) -> Self {
        self.routes.retain(|r| r.pattern.text != pattern);
        self
    }

    /// How many routes are mounted.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether no route is mounted.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route for this path and these offered subprotocols.
    pub(crate) fn find(&self, path: &str, offered: &[String]) -> Option<Matched<U>> {
        self.routes.iter().find_map(|route| {
            let params = route.pattern.matches(path)?;
            let protocol = if route.protocols.is_empty() {
                None
            } else {
                Some(
                    route
                        .protocols
                        .iter()
                        .find(|p| offered.contains(p))?
                        .clone(),
                )
            };
            Some(Matched {
                handler: route.handler.clone(),
                protocol,
                params,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = Pattern::parse("/rooms/:id");
        assert_eq!(p.matches("/rooms/7").unwrap()["id"], "7");
        assert!(p.matches("/rooms").is_none());
        assert!(p.matches("/rooms/7/x").is_none());
        assert!(Pattern::parse("/ws").matches("/ws").is_some());
        assert!(Pattern::parse("/ws").matches("/wsx").is_none());
        assert!(Pattern::parse("/static/*").matches("/static/a/b").is_some());
        assert!(Pattern::parse("/").matches("/").is_some());
        assert!(Pattern::parse("/").matches("/a").is_none());
    }
}
