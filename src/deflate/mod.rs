//! permessage-deflate (RFC 7692), as an [`Extension`]: on miniz_oxide by default, on zlib-rs
//! with the `zlib-rs` feature (faster compression; docs/deflate.md, "Backends").
//!
//! ```
//! use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
//!
//! // Ask the server not to keep context (saves it ~300 KiB per idle connection), compress at
//! // level 6, leave messages under 256 bytes alone.
//! const CONFIG: DeflateConfig = DeflateConfig::new()
//!     .server_no_context_takeover(true)
//!     .level(6)
//!     .threshold(256);
//! let ext = PerMessageDeflate::new(CONFIG);
//! # use wsproto::Extension;
//! assert_eq!(
//!     ext.offer(),
//!     "permessage-deflate; server_no_context_takeover; client_max_window_bits"
//! );
//! ```
//!
//! What it does:
//!
//! * **Negotiation, both roles**: `server_no_context_takeover`, `client_no_context_takeover`,
//!   `server_max_window_bits`, `client_max_window_bits` (8..=15, and the client's valueless
//!   form). A client may offer several elements in order of preference
//!   ([`PerMessageDeflate::with_fallback`]). A server declines an offer with unknown, duplicate
//!   or malformed parameters and honours every valid one; a client fails the handshake on a
//!   response that does not answer one of its offers (RFC 7692 §7.1).
//! * **Windows below 32 KiB are honoured**, down to 256 bytes: our compressor never refers
//!   further back than the window agreed for our direction (how: `docs/deflate.md`).
//! * **Per message**: RSV1 on the first frame, each piece sync-flushed so the peer can inflate
//!   it on arrival (explicit fragments stream), the trailing `00 00 ff ff` stripped and restored,
//!   the LZ77 context kept across messages unless no context takeover was agreed for that
//!   direction. Messages under [`DeflateConfig::threshold`] bytes, and those sent with
//!   [`SendOptions::compress(false)`](crate::SendOptions::compress), go out uncompressed.
//! * **Bounded inflate**: output never grows past the message limit the connection passes in,
//!   and is appended without being zero-filled first; a deflate bomb fails with 1009 after at
//!   most that many bytes. Corrupt data fails with 1007.
//! * **Memory**: the compressor (~319 KiB; with zlib-rs ~371 KiB at 15 bits, less for smaller
//!   windows) and decompressor (~43 KiB; zlib-rs ~55 KiB) are allocated on first use. In a
//!   direction without context takeover they are reset, not reallocated, after each
//!   message, and (with `std`) go back to a small per-thread cache that the next message of
//!   any connection on the thread takes them from: steady traffic allocates nothing, and an
//!   idle connection holds no state in such a direction ([`release_thread_cache`] frees the
//!   cache; docs/deflate.md has the trade-off).

mod cache;
pub(crate) mod codec;
mod params;

pub use cache::release_thread_cache;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::extension::{Extension, ExtensionError, ExtensionParam, RSV1};
use codec::{Compressor, Decompressor, Inflated, SYNC_TRAILER};
pub use params::Agreed;
use params::{MAX_WINDOW_BITS, MIN_WINDOW_BITS, NAME, Params};

/// Settings of [`PerMessageDeflate`]: what to offer (client) or grant (server), and how to
/// compress. All setters are `const` and take `self` by value.
///
/// The same configuration serves both roles:
///
/// | setter | client | server |
/// | --- | --- | --- |
/// | [`server_no_context_takeover`](Self::server_no_context_takeover) | request it | always grant it |
/// | [`client_no_context_takeover`](Self::client_no_context_takeover) | offer it and reset our compressor after each message | require it of the client |
/// | [`server_max_window_bits`](Self::server_max_window_bits) | request this window (below 15) | compress with at most this window |
/// | [`client_max_window_bits`](Self::client_max_window_bits) | compress with at most this window, say so in the offer | limit the client to it, when it offered the parameter |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) level: u8,
    pub(crate) threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DeflateConfig {
    /// The defaults: context takeover both ways, 32 KiB windows, level 1, threshold 1024
    /// bytes (as ws).
    ///
    /// Level 1, not zlib's 6: miniz_oxide's level 1 compresses JSON-like text about 15 times
    /// faster than its level 6 for output about a fifth larger (docs/performance.md).
    pub const fn new() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            level: 1,
            threshold: 1024,
        }
    }

    /// `server_no_context_takeover`: the server compresses each message on its own. Client:
    /// request it. Server: always grant it (and reset the compressor between messages, handing
    /// it to the thread's cache).
    pub const fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// `client_no_context_takeover`: the client compresses each message on its own. Client:
    /// offer it, and do it. Server: require it (and reset the decompressor between messages,
    /// handing it to the thread's cache).
    /// A server also grants it whenever the client offers it.
    pub const fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// `server_max_window_bits`, clamped to 8..=15. Client: below 15, ask the server to
    /// compress with at most `2^bits` bytes of history. Server: never use more, and say so.
    pub const fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = clamp_bits(bits);
        self
    }

    /// `client_max_window_bits`, clamped to 8..=15. Client: compress with at most `2^bits`
    /// bytes of history, and offer the parameter with this value (valueless when 15). Server:
    /// below 15, limit the client to it when the client offered the parameter.
    pub const fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }

    /// Compression level, clamped to 0..=10 (miniz_oxide's scale, like zlib's: 0 stores, 1 is
    /// fastest, 9 best, 10 slowest; with the `zlib-rs` feature 10 is 9). Default 1.
    pub const fn level(mut self, level: u8) -> Self {
        self.level = if level > 10 { 10 } else { level };
        self
    }

    /// Whole messages shorter than this many bytes go out uncompressed. Default 1024 (ws).
    /// Messages sent as explicit fragments (length unknown up front) are always compressed.
    pub const fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The `server_no_context_takeover` setting.
    pub const fn get_server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }
    /// The `client_no_context_takeover` setting.
    pub const fn get_client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }
    /// The `server_max_window_bits` setting.
    pub const fn get_server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }
    /// The `client_max_window_bits` setting.
    pub const fn get_client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }
    /// The compression level.
    pub const fn get_level(&self) -> u8 {
        self.level
    }
    /// The threshold.
    pub const fn get_threshold(&self) -> usize {
        self.threshold
    }
}

const fn clamp_bits(bits: u8) -> u8 {
    if bits < MIN_WINDOW_BITS {
        MIN_WINDOW_BITS
    } else if bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        bits
    }
}

/// Our side of the negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// The permessage-deflate extension (RFC 7692). One instance per connection: the client passes
/// it to its handshake, the server passes a fresh one per connection to its handshake.
///
/// Before negotiation (or if used directly in [`Connection::with_extensions`]) it behaves as
/// a plain `permessage-deflate` with no parameters: 32 KiB windows and context takeover both
/// ways.
///
/// [`Connection::with_extensions`]: crate::Connection::with_extensions
pub struct PerMessageDeflate {
    /// The offers, most preferred first; after negotiation the first is the one in force.
    configs: Vec<DeflateConfig>,
    side: Option<Side>,
    agreed: Agreed,
    /// Window of our compressor (8..=15).
    compress_bits: u8,
    /// No context takeover for our compressor: full flush at the end of each message.
    compress_reset: bool,
    /// No context takeover for our decompressor: reset it after each message.
    decompress_reset: bool,
    compressor: Option<Compressor>,
    decompressor: Option<Decompressor>,
    /// Inbound message state: its compressed bytes so far, and whether its stream ended.
    in_len: usize,
    in_ended: bool,
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("config", &self.config())
            .field("side", &self.side)
            .field("agreed", &self.agreed)
            .field("compressor", &self.compressor.is_some())
            .field("decompressor", &self.decompressor.is_some())
            .finish()
    }
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self::new(DeflateConfig::new())
    }
}

impl PerMessageDeflate {
    /// The extension token, `permessage-deflate`.
    pub const NAME: &'static str = NAME;

    /// An instance with this configuration (the only offer, for a client).
    pub fn new(config: DeflateConfig) -> Self {
        PerMessageDeflate {
            configs: vec![config],
            side: None,
            agreed: Agreed::default(),
            compress_bits: config
                .client_max_window_bits
                .min(config.server_max_window_bits),
            compress_reset: false,
            decompress_reset: false,
            compressor: None,
            decompressor: None,
            in_len: 0,
            in_ended: false,
        }
    }

    /// Client: also offer `config`, after the offers so far (a server takes the first it can
    /// honour). If the server answers this one, its level and threshold apply. Servers ignore
    /// fallbacks.
    ///
    /// ```
    /// use wsproto::Extension;
    /// use wsproto::deflate::{DeflateConfig, PerMessageDeflate};
    /// let ext = PerMessageDeflate::new(DeflateConfig::new().server_max_window_bits(10))
    ///     .with_fallback(DeflateConfig::new());
    /// assert_eq!(
    ///     ext.offer(),
    ///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits, \
    ///      permessage-deflate; client_max_window_bits"
    /// );
    /// ```
    pub fn with_fallback(mut self, config: DeflateConfig) -> Self {
        self.configs.push(config);
        self
    }

    /// The configuration in force: after negotiation, the one whose offer was accepted.
    pub fn config(&self) -> DeflateConfig {
        self.configs.first().copied().unwrap_or_default()
    }

    /// The negotiated parameters, once negotiated.
    pub fn agreed(&self) -> Option<Agreed> {
        self.side.map(|_| self.agreed)
    }

    /// The window our compressor uses, in bits (8..=15).
    pub fn compress_window_bits(&self) -> u8 {
        self.compress_bits
    }

    /// Whether this instance holds a compressor now (between messages, with `std`, it does
    /// not when no context takeover applies to our direction: the thread's cache has it).
    pub fn has_compressor(&self) -> bool {
        self.compressor.is_some()
    }

    /// Whether this instance holds a decompressor now (between messages, with `std`, it does
    /// not when no context takeover applies to the peer's direction: the thread's cache has
    /// it).
    pub fn has_decompressor(&self) -> bool {
        self.decompressor.is_some()
    }

    /// Apply `agreed` for `side`, with `config` as the configuration in force.
    fn activate(&mut self, side: Side, config: DeflateConfig, agreed: Agreed) {
        self.configs.clear();
        self.configs.push(config);
        self.side = Some(side);
        self.agreed = agreed;
        let (bits, reset, peer_reset) = match side {
            Side::Client => (
                agreed
                    .client_max_window_bits
                    .min(config.client_max_window_bits),
                agreed.client_no_context_takeover || config.client_no_context_takeover,
                agreed.server_no_context_takeover,
            ),
            Side::Server => (
                agreed
                    .server_max_window_bits
                    .min(config.server_max_window_bits),
                agreed.server_no_context_takeover,
                agreed.client_no_context_takeover,
            ),
        };
        self.compress_bits = bits;
        self.compress_reset = reset;
        self.decompress_reset = peer_reset;
        self.compressor = None;
        self.decompressor = None;
        self.in_len = 0;
        self.in_ended = false;
    }

    /// End of an inbound message: forget the context if the peer does not keep it, or if its
    /// deflate stream ended (a new one starts with the next message).
    fn end_inbound(&mut self) {
        if self.decompress_reset || self.in_ended {
            if let Some(mut decompressor) = self.decompressor.take() {
                decompressor.reset();
                self.decompressor = if self.decompress_reset {
                    // No context to keep: the thread's cache takes it (std).
                    cache::give_decompressor(decompressor)
                } else {
                    Some(decompressor)
                };
            }
        }
        self.in_len = 0;
        self.in_ended = false;
    }

    /// The compressor for the next piece: ours, or one from the thread's cache, or a new one.
    fn take_compressor(&mut self) -> Compressor {
        if let Some(compressor) = self.compressor.take() {
            return compressor;
        }
        let level = self.config().level;
        let bits = self.compress_bits;
        let forget = self.compress_reset;
        if forget {
            if let Some(mut compressor) = cache::take_compressor() {
                compressor.reuse(level, bits, forget);
                return compressor;
            }
        }
        let mut compressor = Compressor::new(level, bits);
        compressor.set_forget(forget);
        compressor
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        NAME
    }

    fn fresh(&self) -> Box<dyn Extension> {
        let mut configs = self.configs.iter().copied();
        let mut fresh = PerMessageDeflate::new(configs.next().unwrap_or_default());
        fresh.configs.extend(configs);
        Box::new(fresh)
    }

    fn permessage_deflate(&self) -> Option<Agreed> {
        self.agreed()
    }

    fn offer(&self) -> String {
        let mut out = String::new();
        for (i, config) in self.configs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            params::offer_params(config).render(&mut out);
        }
        out
    }

    fn accept_response(&mut self, params: &[ExtensionParam<'_>]) -> Result<(), ExtensionError> {
        let response = Params::parse(params).map_err(ExtensionError::Negotiation)?;
        let found = self
            .configs
            .iter()
            .find_map(|config| params::check_response(config, &response).map(|a| (*config, a)));
        match found {
            Some((config, agreed)) => {
                self.activate(Side::Client, config, agreed);
                Ok(())
            }
            None => Err(ExtensionError::Negotiation(
                "permessage-deflate response does not answer our offer",
            )),
        }
    }

    fn accept_offer(&mut self, params: &[ExtensionParam<'_>]) -> Option<String> {
        let offer = Params::parse(params).ok()?;
        let config = self.config();
        let (response, agreed) = params::answer_offer(&config, &offer);
        let mut out = String::new();
        response.render(&mut out);
        self.activate(Side::Server, config, agreed);
        Some(out)
    }

    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn decode_start(&mut self, rsv: u8) -> Result<bool, ExtensionError> {
        self.in_len = 0;
        self.in_ended = false;
        Ok(rsv & RSV1 != 0)
    }

    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), ExtensionError> {
        let result = self.decode_inner(input, fin, out, max_len);
        if fin || result.is_err() {
            // A failed message fails the connection; free the state either way.
            if result.is_err() {
                self.decompressor = None;
            }
            self.end_inbound();
        }
        result
    }

    fn encode_start(&mut self, len: Option<usize>, compress: bool) -> Option<u8> {
        if !compress {
            return None;
        }
        match len {
            Some(len) if len < self.config().threshold => None,
            _ => Some(RSV1),
        }
    }

    fn encode(&mut self, input: &[u8], fin: bool, out: &mut Vec<u8>) -> Result<(), ExtensionError> {
        let mut compressor = self.take_compressor();
        let result = compressor.compress(input, fin, out);
        self.compressor = match result {
            // Our failure: start afresh next time.
            Err(_) => None,
            // It ended the message with a full flush and holds no context.
            Ok(()) if fin && self.compress_reset => cache::give_compressor(compressor),
            Ok(()) => Some(compressor),
        };
        result
    }

    /// What a held decompressor grew for large messages (zlib-rs backend; the LZ77 windows
    /// persist and do not count).
    fn memory(&self) -> usize {
        self.decompressor
            .as_ref()
            .map_or(0, Decompressor::spare_memory)
    }

    fn release_memory(&mut self) {
        if let Some(decompressor) = &mut self.decompressor {
            decompressor.release_memory();
        }
    }
}

impl PerMessageDeflate {
    fn decode_inner(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), ExtensionError> {
        if self.in_ended {
            // Whatever follows a final block in this message is ignored (RFC 7692 §7.2.3.4
            // shows such padding).
            return Ok(());
        }
        self.in_len = self.in_len.saturating_add(input.len());
        // An empty compressed message is an empty message: appending the trailer to nothing
        // would leave the inflater inside a stored block header.
        let trailer = fin && self.in_len > 0;
        if input.is_empty() && !trailer {
            return Ok(());
        }
        let decompressor = match &mut self.decompressor {
            Some(decompressor) => decompressor,
            None => self
                .decompressor
                .insert(cache::take_decompressor().unwrap_or_else(Decompressor::new)),
        };
        if !input.is_empty() && decompressor.inflate(input, out, max_len)? == Inflated::StreamEnd {
            self.in_ended = true;
            return Ok(());
        }
        if trailer && decompressor.inflate(&SYNC_TRAILER, out, max_len)? == Inflated::StreamEnd {
            self.in_ended = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
