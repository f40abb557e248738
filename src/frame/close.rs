//! Close status codes (RFC 6455 §7.4).

use core::fmt;

/// A close status code: a `u16` newtype with named constants (like `http::StatusCode`).
///
/// `Debug` prints the name of a known code.
///
/// ```
/// use wsproto::CloseCode;
/// assert_eq!(CloseCode::NORMAL.as_u16(), 1000);
/// assert!(CloseCode::from(4001).is_sendable());
/// assert!(!CloseCode::NO_STATUS.is_sendable());
/// assert_eq!(format!("{:?}", CloseCode::PROTOCOL_ERROR), "PROTOCOL_ERROR(1002)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(u16);

macro_rules! close_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal;)*) => {
        impl CloseCode {
            $($(#[$doc])* pub const $name: CloseCode = CloseCode($code);)*

            /// The constant's name for a code RFC 6455 or IANA defines.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

close_codes! {
    /// 1000: normal closure.
    NORMAL = 1000;
    /// 1001: going away (server shutdown, page navigation, idle timeout).
    GOING_AWAY = 1001;
    /// 1002: protocol error.
    PROTOCOL_ERROR = 1002;
    /// 1003: a data type the endpoint cannot accept.
    UNSUPPORTED_DATA = 1003;
    /// 1005: no status code was present (never sent on the wire).
    NO_STATUS = 1005;
    /// 1006: closed without a Close frame (never sent on the wire).
    ABNORMAL = 1006;
    /// 1007: payload data inconsistent with the message type (e.g. invalid UTF-8).
    INVALID_PAYLOAD = 1007;
    /// 1008: policy violation.
    POLICY_VIOLATION = 1008;
    /// 1009: message too big.
    MESSAGE_TOO_BIG = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010;
    /// 1011: the server met an unexpected condition.
    INTERNAL_ERROR = 1011;
    /// 1012: service restart.
    SERVICE_RESTART = 1012;
    /// 1013: try again later.
    TRY_AGAIN_LATER = 1013;
    /// 1014: bad gateway.
    BAD_GATEWAY = 1014;
    /// 1015: TLS handshake failure (never sent on the wire).
    TLS_HANDSHAKE = 1015;
}

impl CloseCode {
    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether a peer may send this code in a Close frame: 1000–1003, 1007–1014, 3000–4999.
    /// A received Close frame with any other code fails the connection with 1002.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_ranges() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_sendable(), expected, "{code}");
        }
    }
}
