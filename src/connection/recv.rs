//! The receive path: frames are parsed lazily in `poll_event`, unmasked in place, validated
//! incrementally, and lent to the caller from the input or message buffer.

use super::buffer::RecvBuf;
use super::{Connection, Core, FrameKind, MessageKind, RxFrame, RxMode, RxMsg, State};
use crate::config::FRAGMENT_OVERHEAD;
use crate::frame::{FrameHeader, OpCode, apply_mask};
use crate::utf8::valid_prefix;
use crate::{CloseCode, Error, Event, ProtocolError, Role, Status};
use bytes::Bytes;

/// With owned messages, a single binary frame over this size that arrives in pieces and does
/// not fit in the input buffer is assembled in memory of its own ([`Core::own_frame`]).
const OWN_ABOVE: usize = 16 * 1024;

/// Where an event's payload lies.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// `input[off..off + len]` (relative to the unprocessed input; consumed at the next call).
    Input { off: usize, len: usize },
    /// `msg[..len]` (removed at the next call).
    Msg(usize),
    /// The one character in `carry`.
    Carry,
    /// `owned` (a whole binary message), cleared at the next call unless taken.
    Owned,
}

/// An event, described without borrowing (so the state can still be updated).
#[derive(Clone, Copy, Debug)]
enum Ready {
    Text {
        src: Src,
        fin: bool,
    },
    Binary {
        src: Src,
        fin: bool,
    },
    Ping(Src),
    Pong(Src),
    Close {
        code: CloseCode,
        reason: Src,
    },
    /// End of stream without a closing handshake (1006).
    Abnormal,
}

/// What one processing step achieved.
enum Flow {
    Ready(Ready),
    Continue,
    NeedMore,
}

impl From<crate::utf8::Invalid> for ProtocolError {
    fn from(_: crate::utf8::Invalid) -> Self {
        ProtocolError::InvalidUtf8
    }
}

pub(super) fn poll_event(conn: &mut Connection) -> Result<Option<Event<'_>>, Error> {
    let Connection { buf, core } = conn;
    let Some(ready) = poll_ready(buf, core)? else {
        return Ok(None);
    };
    lend(buf, core, ready)
}

/// [`poll_event`], except that a whole binary message assembled in `owned` comes as `Ok` of
/// its `Bytes`, taken without a copy (everything else as `Err` of the event).
pub(super) fn poll_owned(conn: &mut Connection) -> Result<Option<Result<Bytes, Event<'_>>>, Error> {
    let Connection { buf, core } = conn;
    let Some(ready) = poll_ready(buf, core)? else {
        return Ok(None);
    };
    if let Ready::Binary {
        src: Src::Owned, ..
    } = ready
    {
        return Ok(Some(Ok(buf.take_owned())));
    }
    Ok(lend(buf, core, ready)?.map(Err))
}

/// The next event, described: the short path for a whole message, else the general one.
#[inline(always)]
fn poll_ready(buf: &mut RecvBuf, core: &mut Core) -> Result<Option<Ready>, Error> {
    buf.settle();
    if core.between_whole_messages() {
        if let Some(ready) = core.whole_message(buf) {
            return Ok(Some(ready));
        }
        if buf.available() == 0 && !core.eof {
            // Nothing arrived since the last message: `step` would find no header either.
            return Ok(None);
        }
    }
    core.step(buf).inspect_err(|_| core.error_reported = true)
}

/// A header with a 7-bit or (minimally encoded) 16-bit length and the mask bit `masked`, all
/// arrived: its first byte, payload length, masking key and length. `None` for any other
/// header, which the general path (`FrameHeader::parse`) handles.
#[inline(always)]
fn short_header(input: &[u8], masked: bool) -> Option<(u8, usize, Option<[u8; 4]>, usize)> {
    let [b0, b1, rest @ ..] = input else {
        return None;
    };
    if (*b1 & 0x80 != 0) != masked {
        return None;
    }
    let (len, rest, header) = match *b1 & 0x7F {
        127 => return None,
        126 => {
            let (ext, rest) = rest.split_first_chunk::<2>()?;
            let len = usize::from(u16::from_be_bytes(*ext));
            if len < 126 {
                return None;
            }
            (len, rest, 4)
        }
        short => (usize::from(short), rest, 2),
    };
    if !masked {
        return Some((*b0, len, None, header));
    }
    let key = *rest.first_chunk::<4>()?;
    Some((*b0, len, Some(key), header + 4))
}

fn slice(buf: &RecvBuf, src: Src) -> &[u8] {
    match src {
        Src::Input { off, len } => {
            let from = buf.start + off;
            buf.data.get(from..from + len).unwrap_or_default()
        }
        Src::Msg(len) => buf.msg.bytes().get(..len).unwrap_or_default(),
        Src::Carry => buf.carry.as_bytes(),
        Src::Owned => buf.owned_bytes(),
    }
}

/// Turns a [`Ready`] into the event, borrowing the buffers. Text is made `&str` here by one
/// simdutf8 pass (for a single frame that arrived whole, the only pass). An error returned
/// here is recorded as reported.
#[inline(always)]
fn lend<'a>(buf: &'a RecvBuf, core: &mut Core, ready: Ready) -> Result<Option<Event<'a>>, Error> {
    let event = match ready {
        Ready::Text { src, fin } => match simdutf8::basic::from_utf8(slice(buf, src)) {
            Ok(data) => Event::Text { data, fin },
            Err(_) => {
                return match core.fail(ProtocolError::InvalidUtf8) {
                    Some(err) => {
                        core.error_reported = true;
                        Err(err)
                    }
                    None => Ok(None),
                };
            }
        },
        Ready::Binary { src, fin } => Event::Binary {
            data: slice(buf, src),
            fin,
        },
        Ready::Ping(src) => Event::Ping(slice(buf, src)),
        Ready::Pong(src) => Event::Pong(slice(buf, src)),
        Ready::Close { code, reason } => {
            // Validated when the frame was processed.
            let reason = core::str::from_utf8(slice(buf, reason)).unwrap_or_default();
            Event::Close { code, reason }
        }
        Ready::Abnormal => Event::Close {
            code: CloseCode::ABNORMAL,
            reason: "",
        },
    };
    Ok(Some(event))
}

/// Validates a Close payload: its code (1005 if absent) and that the reason is UTF-8.
fn parse_close(payload: &[u8]) -> Result<CloseCode, ProtocolError> {
    match payload {
        [] => Ok(CloseCode::NO_STATUS),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = CloseCode::from(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.as_u16()));
            }
            if simdutf8::basic::from_utf8(reason).is_err() {
                return Err(ProtocolError::InvalidUtf8);
            }
            Ok(code)
        }
    }
}

impl Core {
    /// Between messages on an open connection with nothing held back (no error waiting, no
    /// pongs over their cap): where [`whole_message`](Self::whole_message) applies.
    #[inline(always)]
    fn between_whole_messages(&self) -> bool {
        self.frame.is_none()
            && self.msg.is_none()
            && self.rx_mode == RxMode::Normal
            && self.rx_fail.is_none()
            && self.pending_error.is_none()
            && self.tx.pongs.len() <= self.config.max_pending_pongs
    }

    /// The common case in short ([`between_whole_messages`](Self::between_whole_messages)
    /// holds): a single-frame text or binary message (FIN, no RSV bit, masked as our role
    /// requires, a 7- or 16-bit length within the limits) that has arrived whole. Lends it as
    /// [`step`](Self::step) would; anything else is left untouched for `step`.
    #[inline(always)]
    fn whole_message(&mut self, buf: &mut RecvBuf) -> Option<Ready> {
        let (b0, len, key, header) = short_header(buf.input(), self.role == Role::Server)?;
        let text = match b0 {
            0x81 => true,
            0x82 => false,
            _ => return None,
        };
        if len >= self.lend_below || buf.available() - header < len {
            return None;
        }
        buf.consume(header);
        // Unmasked as it was copied in (`push_next`), if any of it was.
        let done = buf.head_unmasked;
        if done != 0 {
            buf.head_unmasked = 0;
        }
        if let (Some(key), Some(payload)) = (key, buf.input_mut().get_mut(done.min(len)..len)) {
            apply_mask(payload, key, done);
        }
        buf.discard = len;
        self.note_activity();
        let src = Src::Input { off: 0, len };
        Some(if text {
            Ready::Text { src, fin: true }
        } else {
            Ready::Binary { src, fin: true }
        })
    }

    /// Bytes from the peer that continue the payload of the frame in progress, when nothing
    /// is left of the input before them: they go where the frame's payload is kept, unmasked
    /// as they are copied (one pass, rather than a copy into the input buffer now and another
    /// pass in `poll_event`). Returns the bytes after the payload.
    ///
    /// * A lent frame whose payload so far is all here and unmasked: onto the input buffer.
    /// * A copied frame (a fragment) with no extension decoding it: into the message buffer.
    ///   Text only with deferred checks: an eager check looks at each piece as `poll_event`
    ///   copies it.
    ///
    /// (A frame assembled in `owned` is the session's, which reads rather than `receive`s.)
    #[inline]
    pub(super) fn push_payload<'a>(&mut self, buf: &mut RecvBuf, bytes: &'a [u8]) -> &'a [u8] {
        let Some(f) = &mut self.frame else {
            return bytes;
        };
        match f.kind {
            FrameKind::Lend => {
                let Some(key) = f.mask else {
                    return bytes;
                };
                if f.unmasked != buf.available() {
                    return bytes;
                }
                let (payload, rest) = bytes.split_at((f.len - f.unmasked).min(bytes.len()));
                buf.push_unmasked(payload, key, f.unmasked);
                f.unmasked += payload.len();
                rest
            }
            FrameKind::Copy => {
                let Some(m) = self.msg else {
                    return bytes;
                };
                let plain = m.ext.is_none() && (m.kind == MessageKind::Binary || self.defer_checks);
                if !plain || buf.available() != 0 || self.rx_fail.is_some() {
                    return bytes;
                }
                let f = *f;
                self.push_fragments(f, m, buf, bytes)
            }
            _ => bytes,
        }
    }

    /// The bytes of a `receive` after those [`push_payload`](Self::push_payload) took. When
    /// they start with the header of the next frame (the input holds nothing, or exactly the
    /// whole payload of the frame being lent) and that frame is a masked, whole single-frame
    /// text or binary message within the limits, the part of its payload that is here is
    /// unmasked as it is copied in and counted in `RecvBuf::head_unmasked`, for when
    /// `poll_event` parses the header: with frames as large as the reads, most of each frame
    /// then arrives in the read that carries its header, and is copied and unmasked in one
    /// pass. Nothing is parsed for good here (the header is checked again, in wire order).
    /// Anything else is appended as it is.
    #[inline]
    pub(super) fn push_next(&mut self, buf: &mut RecvBuf, rest: &[u8]) {
        if let Some((header, key, len)) = self.next_to_lend(buf, rest) {
            let (head, after) = rest.split_at(header);
            let (payload, tail) = after.split_at(len.min(after.len()));
            buf.push(head);
            buf.push_unmasked(payload, key, 0);
            buf.head_unmasked = payload.len();
            buf.push(tail);
        } else {
            buf.push(rest);
        }
    }

    /// For [`push_next`](Self::push_next): the header length, masking key and payload length
    /// of the frame at the front of `rest`, if it comes right after what the input holds and
    /// will be lent from the input buffer.
    fn next_to_lend(&self, buf: &RecvBuf, rest: &[u8]) -> Option<(usize, [u8; 4], usize)> {
        let at_next_header = match &self.frame {
            None => buf.available() == 0 && self.msg.is_none(),
            Some(f) => f.kind == FrameKind::Lend && f.unmasked == f.len && buf.available() == f.len,
        };
        if !at_next_header
            || rest.len() < 64
            || buf.head_unmasked != 0
            || self.rx_mode != RxMode::Normal
            || self.rx_fail.is_some()
            || self.pending_error.is_some()
        {
            return None;
        }
        let Ok(Status::Complete((h, header))) = FrameHeader::parse(rest) else {
            return None;
        };
        let len = usize::try_from(h.payload_len).ok()?;
        let data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if !h.fin || h.rsv != 0 || !data || len >= self.lend_below || self.role != Role::Server {
            return None;
        }
        Some((header, h.mask?, len))
    }

    /// [`push_payload`](Self::push_payload) for a copied message (`f`, `m`): the rest of the
    /// frame, then the continuation frames after it that [`continuation`](Self::continuation)
    /// accepts, straight into the message buffer, until the bytes end, a frame is not such a
    /// continuation, or the last frame is in (which `poll_event` then lends). The bytes after
    /// that are returned, for the input buffer. Nothing here makes an event, so the events
    /// stay in wire order: a frame that is not a plain continuation, or breaks a rule, is left
    /// to the general path.
    fn push_fragments<'a>(
        &mut self,
        mut f: RxFrame,
        mut m: RxMsg,
        buf: &mut RecvBuf,
        mut bytes: &'a [u8],
    ) -> &'a [u8] {
        loop {
            let (payload, rest) = bytes.split_at((f.len - f.done).min(bytes.len()));
            buf.msg.extend(payload, f.mask, f.done);
            f.done += payload.len();
            bytes = rest;
            if f.done < f.len || f.fin {
                break;
            }
            match self.continuation_in(&mut m, bytes) {
                Some((next, header)) => {
                    f = next;
                    bytes = bytes.get(header..).unwrap_or_default();
                }
                None => break,
            }
        }
        self.frame = Some(f);
        self.msg = Some(m);
        bytes
    }

    /// Processes input until an event is ready or more input is needed.
    fn step(&mut self, buf: &mut RecvBuf) -> Result<Option<Ready>, Error> {
        if let Some(err) = self.pending_error.take() {
            return Err(err);
        }
        loop {
            if self.tx.pongs.len() > self.config.max_pending_pongs {
                // Write out the pongs we owe before reading on.
                return Ok(None);
            }
            if self.rx_mode == RxMode::Dead {
                buf.clear_input();
                return Ok(self.end_of_input(buf));
            }
            let flow = match (self.rx_fail.take(), self.frame) {
                (Some(e), _) => Err(e),
                (None, None) => self.next_header(buf),
                (None, Some(frame)) => self.process(frame, buf),
            };
            let e = match flow {
                Ok(Flow::Ready(ready)) => return Ok(Some(ready)),
                Ok(Flow::Continue) => continue,
                Ok(Flow::NeedMore) => {
                    // The end of the stream comes after the text that arrived before it.
                    match self.eof {
                        true => match self.check_pending_text(buf) {
                            Err(e) => e,
                            Ok(()) => return Ok(self.end_of_input(buf)),
                        },
                        false => return Ok(None),
                    }
                }
                Err(e) => e,
            };
            if let Some(f) = &mut self.frame {
                // Skip what is left of the offending frame.
                f.kind = FrameKind::Skip;
                f.unmasked = 0;
                f.checked = 0;
            }
            self.msg = None;
            buf.msg.clear();
            buf.msg_drain = 0;
            buf.carry.clear();
            buf.clear_owned();
            if let Some(err) = self.fail(e) {
                return Err(err);
            }
        }
    }

    /// No more input to process: at end of stream, the connection is over.
    fn end_of_input(&mut self, buf: &mut RecvBuf) -> Option<Ready> {
        if !self.eof || self.state == State::Closed {
            return None;
        }
        let report = matches!(self.rx_mode, RxMode::Normal | RxMode::CloseOnly);
        self.frame = None;
        self.msg = None;
        buf.clear_input();
        self.state = State::Closed;
        self.rx_mode = RxMode::Dead;
        self.close_deadline = None;
        report.then_some(Ready::Abnormal)
    }

    fn next_header(&mut self, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        let parsed = match FrameHeader::parse(buf.input()) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.check_pending_text(buf)?;
                self.rx_desync = true;
                return Err(e);
            }
        };
        match parsed {
            Status::Partial => Ok(Flow::NeedMore),
            Status::Complete((header, n)) => {
                if header.opcode != OpCode::Continuation {
                    // Not more of the message: its deferred text check goes first.
                    self.check_pending_text(buf)?;
                }
                buf.consume(n);
                let unmasked = core::mem::take(&mut buf.head_unmasked);
                let mut frame = match self.begin_frame(header) {
                    Ok(frame) => frame,
                    Err(e) => {
                        self.check_pending_text(buf)?;
                        return Err(e);
                    }
                };
                if matches!(frame.kind, FrameKind::Lend | FrameKind::Stream) {
                    // Unmasked as it was copied in (`push_next`).
                    frame.unmasked = unmasked.min(frame.len);
                }
                // `lend_frame` and `copy_frame` store their frame themselves (and a frame that
                // is done not at all).
                if !matches!(frame.kind, FrameKind::Lend | FrameKind::Copy) {
                    self.frame = Some(frame);
                }
                // Straight on to the payload (nothing `step` checks between frames changed).
                self.process(frame, buf)
            }
        }
    }

    /// Processes what has arrived of the current frame's payload, by the frame's kind.
    #[inline(always)]
    fn process(&mut self, frame: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        match frame.kind {
            FrameKind::Lend => self.lend_frame(frame, buf),
            FrameKind::Copy => self.copy_frame(frame, buf),
            FrameKind::Own => Ok(self.own_frame(frame, buf)),
            FrameKind::Stream => self.stream_frame(frame, buf),
            FrameKind::Control => self.control_frame(frame, buf),
            FrameKind::Skip => Ok(self.skip_frame(frame, buf)),
        }
    }

    /// Checks a header against the protocol rules and sets up its frame (on `Err`, stored to
    /// be skipped).
    fn begin_frame(&mut self, h: FrameHeader) -> Result<RxFrame, ProtocolError> {
        // Until proven acceptable, the frame is skipped (if its length fits memory at all).
        let Ok(len) = usize::try_from(h.payload_len) else {
            self.rx_desync = true;
            return Err(ProtocolError::FrameTooLarge);
        };
        let mut frame = RxFrame {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            kind: FrameKind::Skip,
            len,
            done: 0,
            unmasked: 0,
            checked: 0,
        };
        match self.classify(&h, &mut frame) {
            Ok(()) => Ok(frame),
            Err(e) => {
                self.frame = Some(frame);
                Err(e)
            }
        }
    }

    /// Decides how a frame is processed (`frame.kind`), starting its message if it is the
    /// first of one; on `Err` the frame stays [`FrameKind::Skip`].
    #[inline(always)]
    fn classify(&mut self, h: &FrameHeader, frame: &mut RxFrame) -> Result<(), ProtocolError> {
        let len = frame.len;
        if self.rx_mode != RxMode::Normal {
            // Closing: only the peer's Close matters.
            if h.opcode == OpCode::Close && len <= 125 {
                frame.kind = FrameKind::Control;
            }
            return Ok(());
        }
        if let OpCode::Reserved(op) = h.opcode {
            return Err(ProtocolError::UnknownOpcode(op));
        }
        // A Close frame that breaks a rule still ends the peer's side: after our Close with
        // the error code the handshake is over (no second Close will come).
        self.peer_close_seen = h.opcode == OpCode::Close;
        let control = h.opcode.is_control();
        if h.rsv != 0
            && (control || h.opcode == OpCode::Continuation || h.rsv & !self.claimed_rsv != 0)
        {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if control {
            if len > 125 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            frame.kind = FrameKind::Control;
            return Ok(());
        }
        if len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooLarge);
        }
        let msg = match (h.opcode, self.msg) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(mut m)) => {
                m.fragments += 1;
                if m.fragments > self.config.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                m.charged = m.charged.saturating_add(FRAGMENT_OVERHEAD);
                if m.ext.is_none() {
                    m.charged = m.charged.saturating_add(len);
                }
                m
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let ext = if h.rsv != 0 {
                    Some(self.decode_start(h.rsv)?)
                } else {
                    None
                };
                // A decoded message is charged by its decoded size (checked as it is decoded).
                let charged = if ext.is_some() { 0 } else { len };
                RxMsg {
                    kind,
                    ext,
                    fragments: 1,
                    charged,
                    checked: 0,
                    decoded: 0,
                }
            }
        };
        if msg.charged > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        frame.kind = if msg.ext.is_some() {
            FrameKind::Copy
        } else if !self.config.assemble_messages {
            FrameKind::Stream
        } else if msg.fragments == 1 && h.fin {
            FrameKind::Lend
        } else {
            FrameKind::Copy
        };
        if frame.kind != FrameKind::Lend {
            // A lent frame is the whole message: nothing to keep about it but the frame.
            self.msg = Some(msg);
        }
        Ok(())
    }

    /// The first frame of a data message carries claimed RSV bits: the claiming extension
    /// decodes it. At most one extension transforms a message.
    fn decode_start(&mut self, rsv: u8) -> Result<usize, ProtocolError> {
        for (i, e) in self.extensions.iter_mut().enumerate() {
            let bits = e.rsv_bits() & 0b111;
            if bits & rsv == 0 {
                continue;
            }
            if rsv & !bits != 0 {
                // Bits of two extensions on one message: not supported.
                return Err(ProtocolError::ReservedBits);
            }
            return match e.decode_start(rsv) {
                Ok(true) => Ok(i),
                Ok(false) => Err(ProtocolError::ReservedBits),
                Err(err) => Err(ProtocolError::Extension(err)),
            };
        }
        Err(ProtocolError::ReservedBits)
    }

    /// Validates the text that arrived of an unfinished message and was not checked yet
    /// (deferred checks). Invalid text fails the connection at the next `poll_event`; returns
    /// whether it did.
    pub(super) fn check_deferred(&mut self, buf: &RecvBuf) -> bool {
        if !self.defer_checks || self.rx_fail.is_some() {
            return false;
        }
        let invalid = self.check_pending_text(buf).is_err();
        if invalid {
            self.rx_fail = Some(ProtocolError::InvalidUtf8);
        }
        invalid
    }

    /// With deferred checks, the text of the unfinished message that was not checked yet is
    /// checked before anything later in the stream is acted on (a control frame, another
    /// frame's error, the end of the stream), so the events are the same however the input
    /// was split and whenever `check_deferred` ran.
    #[inline(always)]
    fn check_pending_text(&mut self, buf: &RecvBuf) -> Result<(), ProtocolError> {
        if !self.defer_checks || (self.frame.is_none() && self.msg.is_none()) {
            // Off, or between messages (the common case when a driver waits): nothing pending.
            return Ok(());
        }
        self.check_unchecked_text(buf)
    }

    /// [`check_pending_text`](Self::check_pending_text) with deferred checks on.
    #[inline(never)]
    fn check_unchecked_text(&mut self, buf: &RecvBuf) -> Result<(), ProtocolError> {
        if let Some(f) = &mut self.frame {
            if f.kind == FrameKind::Lend && f.opcode == OpCode::Text && f.unmasked > f.checked {
                let new = buf.input().get(f.checked..f.unmasked).unwrap_or_default();
                f.checked += valid_prefix(new)?;
            }
        }
        if let Some(m) = &mut self.msg {
            let pending = buf.msg.len() > m.checked && buf.msg_drain == 0;
            if m.kind == MessageKind::Text && self.config.assemble_messages && pending {
                m.checked += valid_prefix(buf.msg.bytes().get(m.checked..).unwrap_or_default())?;
            }
        }
        Ok(())
    }

    /// A single-frame message: unmask and validate what has arrived, lend it once complete.
    fn lend_frame(&mut self, mut f: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        let avail = buf.available().min(f.len);
        let text = f.opcode == OpCode::Text;
        if self.owned_messages
            && f.opcode == OpCode::Binary
            && avail < f.len
            && f.unmasked == 0
            && f.len > OWN_ABOVE
            && buf.start.saturating_add(f.len) > buf.data.len()
        {
            // Nothing of it unmasked yet: assembled in owned memory from here on.
            buf.start_owned(f.len);
            f.kind = FrameKind::Own;
            return Ok(self.own_frame(f, buf));
        }
        if let (Some(key), Some(new)) = (f.mask, buf.input_mut().get_mut(f.unmasked..avail)) {
            apply_mask(new, key, f.unmasked);
        }
        if avail == f.len {
            self.frame = None;
            self.note_activity();
            buf.discard = f.len;
            let src = Src::Input { off: 0, len: f.len };
            // Text is validated once, when lent.
            return Ok(Flow::Ready(if text {
                Ready::Text { src, fin: true }
            } else {
                Ready::Binary { src, fin: true }
            }));
        }
        // Partial: fail fast on invalid text without waiting for the rest (with deferred
        // checks, once the driver is about to wait: `check_deferred`).
        f.unmasked = avail;
        let checked = if text && avail > f.checked && !self.defer_checks {
            valid_prefix(buf.input().get(f.checked..avail).unwrap_or_default())
        } else {
            Ok(0)
        };
        // Stored whatever the check says: after an error the rest of the frame is skipped.
        f.checked += checked.unwrap_or(0);
        self.frame = Some(f);
        checked?;
        Ok(Flow::NeedMore)
    }

    /// Appends what has arrived of a frame being assembled in `owned` (a large single binary
    /// frame, with owned messages, that arrived in part and does not fit in the input buffer:
    /// the message keeps this memory as its `Bytes`, and a driver can read the rest of the
    /// payload straight into it, [`Connection::owned_room`]); lends the message once it is
    /// whole.
    fn own_frame(&mut self, mut f: RxFrame, buf: &mut RecvBuf) -> Flow {
        let avail = buf.available().min(f.len - f.done);
        buf.input_to_owned(avail, f.mask, f.done);
        buf.consume(avail);
        f.done += avail;
        if f.done < f.len {
            self.frame = Some(f);
            return Flow::NeedMore;
        }
        self.frame = None;
        self.note_activity();
        buf.owned_lent = true;
        Flow::Ready(Ready::Binary {
            src: Src::Owned,
            fin: true,
        })
    }

    /// Appends (or decodes) what has arrived of the frame to the message buffer, then of the
    /// continuation frames right after it: the message record is carried through them.
    fn copy_frame(&mut self, mut f: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        let Some(mut m) = self.msg else {
            self.frame = None;
            return Ok(Flow::Continue);
        };
        if m.ext.is_none() && (m.kind == MessageKind::Binary || self.defer_checks) {
            return Ok(self.copy_plain(f, m, buf));
        }
        loop {
            let avail = buf.available().min(f.len - f.done);
            let last = f.done + avail == f.len;
            if avail == 0 && !last {
                self.frame = Some(f);
                self.msg = Some(m);
                return Ok(Flow::NeedMore);
            }
            let fin = last && f.fin;
            let from = buf.start;
            let piece = buf.data.get_mut(from..from + avail).unwrap_or_default();
            let ext = m.ext.and_then(|i| self.extensions.get_mut(i));
            match ext {
                Some(e) => {
                    // Stored before anything can fail, so that the rest of the frame is skipped.
                    self.frame = Some(f);
                    if let Some(key) = f.mask {
                        apply_mask(piece, key, f.done);
                    }
                    let budget = self
                        .config
                        .max_message_size
                        .saturating_sub(m.charged)
                        .saturating_sub(m.decoded);
                    let before = buf.msg.len();
                    let max_len = before.saturating_add(budget);
                    let out = buf.msg.vec();
                    let decoded = e.decode(piece, fin, out, max_len);
                    buf.msg.sync();
                    decoded.map_err(ProtocolError::Extension)?;
                    if buf.msg.len() > max_len {
                        return Err(ProtocolError::MessageTooLarge);
                    }
                    m.decoded += buf.msg.len().saturating_sub(before);
                }
                // Unmasked as it is copied.
                None => buf.msg.extend(piece, f.mask, f.done),
            }
            buf.consume(avail);
            f.done += avail;
            self.frame = if last { None } else { Some(f) };
            let text = m.kind == MessageKind::Text;
            let streaming = !self.config.assemble_messages;
            let mut invalid = false;
            // A whole message is validated once, when lent; the pieces before its end only to
            // fail fast (with deferred checks, once the driver is about to wait). Streamed text
            // is lent piece by piece, so each piece is checked as it comes.
            let check_now = streaming || (!fin && !self.defer_checks);
            if text && check_now && buf.msg.len() > m.checked {
                match valid_prefix(buf.msg.bytes().get(m.checked..).unwrap_or_default()) {
                    Ok(n) => m.checked += n,
                    Err(e) if streaming => {
                        m.checked += e.valid_up_to;
                        invalid = true;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let total = buf.msg.len();
            if text && streaming && fin && m.checked != total {
                invalid = true;
            }
            if invalid {
                // Streaming: lend the valid text before the error, as it came in wire order.
                if m.checked == 0 || !streaming {
                    return Err(ProtocolError::InvalidUtf8);
                }
                self.rx_fail = Some(ProtocolError::InvalidUtf8);
                let deliver = m.checked;
                m.checked = 0;
                buf.msg_drain = deliver;
                self.msg = Some(m);
                return Ok(Flow::Ready(data_ready(m.kind, Src::Msg(deliver), false)));
            }
            if fin {
                self.msg = None;
                self.note_activity();
                buf.msg_drain = total;
                return Ok(Flow::Ready(data_ready(m.kind, Src::Msg(total), true)));
            }
            if streaming {
                // Streaming a decoded message: lend what is complete.
                let deliver = if text { m.checked } else { total };
                if deliver > 0 {
                    if text {
                        m.checked = 0;
                    }
                    buf.msg_drain = deliver;
                    self.msg = Some(m);
                    return Ok(Flow::Ready(data_ready(m.kind, Src::Msg(deliver), false)));
                }
            }
            if !last {
                self.msg = Some(m);
                return Ok(Flow::NeedMore);
            }
            // The frame is done and the message is not: on to the next frame here if it is
            // a continuation that passes every rule.
            match self.continuation(&mut m, buf) {
                Some(next) => f = next,
                None => {
                    self.msg = Some(m);
                    return Ok(Flow::Continue);
                }
            }
        }
    }

    /// [`copy_frame`](Self::copy_frame) for the common case, a message no extension decodes
    /// whose pieces need no check as they arrive (binary, or text with deferred checks; being
    /// copied, it is assembled, not streamed): each frame's payload is copied (unmasked) into
    /// the message buffer and the run goes straight on to the next continuation; the whole
    /// message is lent (and text validated) once its last frame is in.
    #[inline(always)]
    fn copy_plain(&mut self, mut f: RxFrame, mut m: RxMsg, buf: &mut RecvBuf) -> Flow {
        loop {
            let avail = buf.available().min(f.len - f.done);
            let from = buf.start;
            let piece = buf.data.get(from..from + avail).unwrap_or_default();
            buf.msg.extend(piece, f.mask, f.done);
            buf.consume(avail);
            f.done += avail;
            if f.done < f.len {
                self.frame = Some(f);
                self.msg = Some(m);
                return Flow::NeedMore;
            }
            if f.fin {
                self.frame = None;
                self.msg = None;
                self.note_activity();
                let total = buf.msg.len();
                buf.msg_drain = total;
                return Flow::Ready(data_ready(m.kind, Src::Msg(total), true));
            }
            match self.continuation(&mut m, buf) {
                Some(next) => f = next,
                None => {
                    self.frame = None;
                    self.msg = Some(m);
                    return Flow::Continue;
                }
            }
        }
    }

    /// The next frame, if it is one that [`classify`](Self::classify) makes a copied
    /// continuation of `m` without error (open connection, no RSV bit, masked as our role
    /// requires, a 7- or 16-bit length within the limits): its header is consumed and `m`
    /// counts it. Anything else is left for `next_header`.
    #[inline(always)]
    fn continuation(&self, m: &mut RxMsg, buf: &mut RecvBuf) -> Option<RxFrame> {
        let (frame, header) = self.continuation_in(m, buf.input())?;
        buf.consume(header);
        Some(frame)
    }

    /// [`continuation`](Self::continuation) at the front of `input`, which is left as it is:
    /// the frame and the length of its header.
    #[inline(always)]
    fn continuation_in(&self, m: &mut RxMsg, input: &[u8]) -> Option<(RxFrame, usize)> {
        if self.rx_mode != RxMode::Normal {
            return None;
        }
        let (b0, len, mask, header) = short_header(input, self.role == Role::Server)?;
        if b0 & 0x7F != 0 || len > self.config.max_frame_size {
            return None;
        }
        let fragments = m.fragments + 1;
        let mut charged = m.charged.saturating_add(FRAGMENT_OVERHEAD);
        if m.ext.is_none() {
            charged = charged.saturating_add(len);
        }
        if fragments > self.config.max_fragments || charged > self.config.max_message_size {
            return None;
        }
        m.fragments = fragments;
        m.charged = charged;
        let frame = RxFrame {
            opcode: OpCode::Continuation,
            fin: b0 & 0x80 != 0,
            mask,
            kind: FrameKind::Copy,
            len,
            done: 0,
            unmasked: 0,
            checked: 0,
        };
        Some((frame, header))
    }

    /// Streaming without extension: lend pieces straight from the input buffer.
    fn stream_frame(&mut self, mut f: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        let avail = buf.available().min(f.len - f.done);
        if avail > f.unmasked {
            if let (Some(key), Some(new)) = (f.mask, buf.input_mut().get_mut(f.unmasked..avail)) {
                apply_mask(new, key, f.done + f.unmasked);
            }
            f.unmasked = avail;
        }
        let arrived = f.done + avail == f.len;
        let kind = self.msg.map_or(MessageKind::Binary, |m| m.kind);
        if kind == MessageKind::Binary {
            if avail > 0 || (arrived && f.fin) {
                return Ok(self.deliver_input(
                    f,
                    buf,
                    avail,
                    arrived && f.fin,
                    MessageKind::Binary,
                ));
            }
            self.frame = if arrived { None } else { Some(f) };
            return Ok(if arrived {
                Flow::Continue
            } else {
                Flow::NeedMore
            });
        }
        if !buf.carry.is_empty() {
            // Finish the character split across frames and lend it alone.
            let from = buf.start;
            let head = buf.data.get(from..from + avail).unwrap_or_default();
            let (taken, complete) = buf.carry.complete(head)?;
            buf.consume(taken);
            f.done += taken;
            f.unmasked -= taken;
            let all = f.done == f.len;
            self.frame = if all { None } else { Some(f) };
            if complete {
                buf.carry_lent = true;
                let fin = all && f.fin;
                if fin {
                    self.msg = None;
                    self.note_activity();
                }
                return Ok(Flow::Ready(Ready::Text {
                    src: Src::Carry,
                    fin,
                }));
            }
            if all && f.fin {
                return Err(ProtocolError::InvalidUtf8);
            }
            return Ok(if all { Flow::Continue } else { Flow::NeedMore });
        }
        if avail > f.checked {
            match valid_prefix(buf.input().get(f.checked..avail).unwrap_or_default()) {
                Ok(n) => f.checked += n,
                Err(e) => {
                    f.checked += e.valid_up_to;
                    return self.fail_after(f, buf);
                }
            }
        }
        if arrived {
            let tail = avail - f.checked;
            if f.fin {
                if tail > 0 {
                    return self.fail_after(f, buf);
                }
                return Ok(self.deliver_input(f, buf, avail, true, MessageKind::Text));
            }
            if f.checked > 0 {
                return Ok(self.deliver_input(f, buf, f.checked, false, MessageKind::Text));
            }
            // Only an incomplete character is left: carry it into the next frame.
            let from = buf.start;
            buf.carry
                .set(buf.data.get(from..from + tail).unwrap_or_default());
            buf.consume(tail);
            self.frame = None;
            return Ok(Flow::Continue);
        }
        if f.checked > 0 {
            return Ok(self.deliver_input(f, buf, f.checked, false, MessageKind::Text));
        }
        self.frame = Some(f);
        Ok(Flow::NeedMore)
    }

    /// Invalid text while streaming: lend the valid text before it first (wire order, and the
    /// same events however the input was split), then fail.
    fn fail_after(&mut self, f: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        if f.checked == 0 {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.rx_fail = Some(ProtocolError::InvalidUtf8);
        Ok(self.deliver_input(f, buf, f.checked, false, MessageKind::Text))
    }

    /// Lends `n` bytes from the front of the input as a streamed chunk.
    fn deliver_input(
        &mut self,
        mut f: RxFrame,
        buf: &mut RecvBuf,
        n: usize,
        fin: bool,
        kind: MessageKind,
    ) -> Flow {
        buf.discard = n;
        f.done += n;
        f.unmasked -= n;
        f.checked = f.checked.saturating_sub(n);
        self.frame = if f.done == f.len { None } else { Some(f) };
        if fin {
            self.msg = None;
            self.note_activity();
        }
        Flow::Ready(data_ready(kind, Src::Input { off: 0, len: n }, fin))
    }

    /// Ping, pong or close, once its whole payload is here.
    fn control_frame(&mut self, f: RxFrame, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        if buf.available() < f.len {
            return Ok(Flow::NeedMore);
        }
        let len = f.len;
        if let (Some(key), Some(payload)) = (f.mask, buf.input_mut().get_mut(..len)) {
            apply_mask(payload, key, 0);
        }
        self.frame = None;
        let normal = self.rx_mode == RxMode::Normal;
        let src = Src::Input { off: 0, len };
        match f.opcode {
            OpCode::Ping if normal => {
                if self.config.auto_pong && self.state == State::Open && !self.close_sent {
                    let payload = buf.data.get(buf.start..buf.start + len).unwrap_or_default();
                    self.queue_auto_pong(payload);
                }
                buf.discard = len;
                Ok(Flow::Ready(Ready::Ping(src)))
            }
            OpCode::Pong if normal => {
                buf.discard = len;
                Ok(Flow::Ready(Ready::Pong(src)))
            }
            OpCode::Close => self.peer_close(len, buf),
            _ => {
                buf.consume(len);
                Ok(Flow::Continue)
            }
        }
    }

    /// The peer's Close frame (its payload at the front of the input).
    fn peer_close(&mut self, len: usize, buf: &mut RecvBuf) -> Result<Flow, ProtocolError> {
        let parsed = parse_close(buf.input().get(..len).unwrap_or_default());
        let mode = self.rx_mode;
        let was_open = self.state == State::Open && !self.close_sent;
        let code = match parsed {
            Ok(code) => code,
            Err(e) => {
                buf.consume(len);
                self.peer_close_seen = true;
                if mode == RxMode::Silent {
                    self.finish_closed();
                    return Ok(Flow::Continue);
                }
                // `fail` answers with our error code, reports it, and ends the handshake.
                self.rx_mode = mode;
                return Err(e);
            }
        };
        if was_open {
            // Echo the peer's code and reason (an empty Close answers an empty one), as ws,
            // Python websockets and tungstenite do.
            if len == 0 {
                self.queue_close(None, "");
            } else {
                let payload = buf.input().get(2..len).unwrap_or_default();
                let reason = core::str::from_utf8(payload).unwrap_or_default();
                self.queue_close(Some(code), reason);
            }
        }
        self.peer_close_seen = true;
        self.finish_closed();
        if mode == RxMode::Silent {
            buf.consume(len);
            return Ok(Flow::Continue);
        }
        buf.discard = len;
        let reason = if len >= 2 {
            Src::Input {
                off: 2,
                len: len - 2,
            }
        } else {
            Src::Input { off: 0, len: 0 }
        };
        Ok(Flow::Ready(Ready::Close { code, reason }))
    }

    /// Discards what has arrived of the frame.
    fn skip_frame(&mut self, mut f: RxFrame, buf: &mut RecvBuf) -> Flow {
        let n = buf.available().min(f.len - f.done);
        buf.consume(n);
        f.done += n;
        if f.done == f.len {
            self.frame = None;
            Flow::Continue
        } else {
            self.frame = Some(f);
            Flow::NeedMore
        }
    }
}

fn data_ready(kind: MessageKind, src: Src, fin: bool) -> Ready {
    match kind {
        MessageKind::Text => Ready::Text { src, fin },
        MessageKind::Binary => Ready::Binary { src, fin },
    }
}
