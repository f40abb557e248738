//! `Sec-WebSocket-Extensions` values of our own making, split for the `Extension` trait:
//! one copy for the fuzz harness and the deflate integration tests (which include it by path).

use wsproto::extension::ExtensionParam;

/// Owned `name[=value]` parameters of one element.
pub type OwnedParams = Vec<(String, Option<String>)>;

/// Splits a header value of our own making into (name, params) elements (no quoted commas).
pub fn parse_elements(value: &str) -> Vec<(String, OwnedParams)> {
    value
        .split(',')
        .map(|element| {
            let mut parts = element.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_owned();
            let params = parts
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_owned(),
                        Some(v.trim().trim_matches('"').to_owned()),
                    ),
                    None => (p.to_owned(), None),
                })
                .collect();
            (name, params)
        })
        .collect()
}

pub fn as_params(params: &[(String, Option<String>)]) -> Vec<ExtensionParam<'_>> {
    params
        .iter()
        .map(|(n, v)| ExtensionParam {
            name: n,
            value: v.as_deref(),
        })
        .collect()
}
