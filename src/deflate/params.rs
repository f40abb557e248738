//! RFC 7692 §7.1 parameter parsing, offer/response rendering and the negotiation rules of both
//! roles.

use alloc::string::String;
use core::fmt::Write as _;

use super::DeflateConfig;
use crate::extension::ExtensionParam;

/// The extension token.
pub(super) const NAME: &str = "permessage-deflate";

/// The largest LZ77 window (32 KiB), and the value assumed when a window parameter is absent.
pub(super) const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window RFC 7692 allows (256 bytes).
pub(super) const MIN_WINDOW_BITS: u8 = 8;

/// The parameters of one offer or response element, validated: every parameter known, none
/// repeated, every value well formed (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Params {
    pub(super) server_no_context_takeover: bool,
    pub(super) client_no_context_takeover: bool,
    pub(super) server_max_window_bits: Option<u8>,
    /// `Some(None)`: the valueless form (only valid in a client's offer).
    pub(super) client_max_window_bits: Option<Option<u8>>,
}

/// A window-bits value: a decimal integer 8..=15 without leading zeros (RFC 7692 §7.1.2).
fn parse_window_bits(value: &str) -> Option<u8> {
    match value {
        "8" => Some(8),
        "9" => Some(9),
        "10" => Some(10),
        "11" => Some(11),
        "12" => Some(12),
        "13" => Some(13),
        "14" => Some(14),
        "15" => Some(15),
        _ => None,
    }
}

impl Params {
    /// Validates the parameters of one element. Unknown, duplicated or malformed parameters are
    /// errors: a server declines such an offer, a client fails the handshake.
    pub(super) fn parse(params: &[ExtensionParam<'_>]) -> Result<Params, &'static str> {
        let mut out = Params::default();
        let mut seen_smwb = false;
        for param in params {
            let name = param.name;
            if name.eq_ignore_ascii_case("server_no_context_takeover") {
                if out.server_no_context_takeover {
                    return Err("duplicate server_no_context_takeover");
                }
                if param.value.is_some() {
                    return Err("server_no_context_takeover takes no value");
                }
                out.server_no_context_takeover = true;
            } else if name.eq_ignore_ascii_case("client_no_context_takeover") {
                if out.client_no_context_takeover {
                    return Err("duplicate client_no_context_takeover");
                }
                if param.value.is_some() {
                    return Err("client_no_context_takeover takes no value");
                }
                out.client_no_context_takeover = true;
            } else if name.eq_ignore_ascii_case("server_max_window_bits") {
                if seen_smwb {
                    return Err("duplicate server_max_window_bits");
                }
                seen_smwb = true;
                let value = param.value.ok_or("server_max_window_bits needs a value")?;
                out.server_max_window_bits =
                    Some(parse_window_bits(value).ok_or("invalid server_max_window_bits")?);
            } else if name.eq_ignore_ascii_case("client_max_window_bits") {
                if out.client_max_window_bits.is_some() {
                    return Err("duplicate client_max_window_bits");
                }
                out.client_max_window_bits = Some(match param.value {
                    None => None,
                    Some(value) => {
                        Some(parse_window_bits(value).ok_or("invalid client_max_window_bits")?)
                    }
                });
            } else {
                return Err("unknown permessage-deflate parameter");
            }
        }
        Ok(out)
    }

    /// Renders `permessage-deflate` followed by these parameters.
    pub(super) fn render(&self, out: &mut String) {
        out.push_str(NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            // Writing to a String cannot fail.
            let _ = write!(out, "; server_max_window_bits={bits}");
        }
        match self.client_max_window_bits {
            None => {}
            Some(None) => out.push_str("; client_max_window_bits"),
            Some(Some(bits)) => {
                let _ = write!(out, "; client_max_window_bits={bits}");
            }
        }
    }
}

/// What was agreed, from the point of view of RFC 7692's two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The server resets its compressor after each message (client: reset the decompressor).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message (server: reset the decompressor).
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window (8..=15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window (8..=15).
    pub client_max_window_bits: u8,
}

impl Default for Agreed {
    fn default() -> Self {
        Agreed {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// The offer element a client sends for `config`.
pub(super) fn offer_params(config: &DeflateConfig) -> Params {
    Params {
        server_no_context_takeover: config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: (config.server_max_window_bits < MAX_WINDOW_BITS)
            .then_some(config.server_max_window_bits),
        // Always advertise support for the parameter; with a value when we want a smaller window.
        client_max_window_bits: Some(
            (config.client_max_window_bits < MAX_WINDOW_BITS)
                .then_some(config.client_max_window_bits),
        ),
    }
}

/// Client: whether `response` is a valid answer to the offer built from `config`
/// (RFC 7692 §7.1), and if so what was agreed.
pub(super) fn check_response(config: &DeflateConfig, response: &Params) -> Option<Agreed> {
    let offered = offer_params(config);
    // A requested server_no_context_takeover must be granted (§7.1.1.1).
    if offered.server_no_context_takeover && !response.server_no_context_takeover {
        return None;
    }
    // A requested server window must be granted, at most as large (§7.1.2.1).
    if let Some(asked) = offered.server_max_window_bits {
        match response.server_max_window_bits {
            Some(granted) if granted <= asked => {}
            _ => return None,
        }
    }
    // client_max_window_bits: only if offered, with a value, not above the offered one
    // (§7.1.2.2).
    let client_bits = match response.client_max_window_bits {
        None => MAX_WINDOW_BITS,
        Some(None) => return None,
        Some(Some(bits)) => match offered.client_max_window_bits {
            None => return None,
            Some(Some(asked)) if bits > asked => return None,
            Some(_) => bits,
        },
    };
    Some(Agreed {
        server_no_context_takeover: response.server_no_context_takeover,
        client_no_context_takeover: response.client_no_context_takeover,
        server_max_window_bits: response.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: client_bits,
    })
}

/// Server: the response to a (valid) offer, and what it agrees. Every valid offer can be
/// honoured: any window 8..=15 and no context takeover in either direction.
pub(super) fn answer_offer(config: &DeflateConfig, offer: &Params) -> (Params, Agreed) {
    let server_no_context_takeover =
        offer.server_no_context_takeover || config.server_no_context_takeover;
    // The client's hint, or our own wish, lets us drop the decompressor between messages.
    let client_no_context_takeover =
        offer.client_no_context_takeover || config.client_no_context_takeover;

    let server_bits = match offer.server_max_window_bits {
        Some(asked) => asked.min(config.server_max_window_bits),
        None => config.server_max_window_bits,
    };
    let server_max_window_bits = (offer.server_max_window_bits.is_some()
        || server_bits < MAX_WINDOW_BITS)
        .then_some(server_bits);

    // We may only limit the client's window if it offered the parameter.
    let (client_max_window_bits, client_bits) = match offer.client_max_window_bits {
        None => (None, MAX_WINDOW_BITS),
        Some(offered) => {
            let offered = offered.unwrap_or(MAX_WINDOW_BITS);
            let bits = offered.min(config.client_max_window_bits);
            ((bits < offered).then_some(Some(bits)), bits)
        }
    };

    let response = Params {
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    };
    let agreed = Agreed {
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    (response, agreed)
}
