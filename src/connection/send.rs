//! The send path: commands encoded into the outbound queue.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::{Core, MessageKind, Role, State, TxMsg, TxQueue};
use crate::frame::{FrameHeader, OpCode, PreparedFrame, apply_mask};
use crate::utf8::Utf8Carry;
use crate::{Instant, SendError};

/// Shared frames up to this size are copied into the owned bytes (see `push_shared`).
const COPY_SHARED_UP_TO: usize = 1024;

/// Frames with payloads up to this size are assembled on the stack before they are queued.
const SMALL_FRAME: usize = 64;

impl TxQueue {
    /// Bytes queued and not yet written.
    #[inline]
    pub(super) fn buffered(&self) -> usize {
        self.out.len() - self.pos + self.shared_len
    }

    /// Owned bytes before the next shared frame (all of them if none waits).
    #[inline]
    fn owned_run(&self) -> usize {
        let owned = self.out.len() - self.pos;
        match self.shared.front() {
            Some(&(mark, _)) => owned.min(mark.saturating_sub(self.owned_written) as usize),
            None => owned,
        }
    }

    /// The unwritten bytes, up to the next boundary between owned and shared bytes.
    #[inline]
    pub(super) fn pending(&self) -> &[u8] {
        if self.shared.is_empty() {
            return self.out.get(self.pos..).unwrap_or_default();
        }
        let run = self.owned_run();
        if run > 0 {
            return self.out.get(self.pos..self.pos + run).unwrap_or_default();
        }
        match self.shared.front() {
            Some((_, frame)) => frame.get(self.shared_pos..).unwrap_or_default(),
            None => &[],
        }
    }

    /// The unwritten bytes as two runs for a vectored write: [`pending`](TxQueue::pending)
    /// and the run after it (empty if there is none).
    pub(super) fn pending_pair(&self) -> [&[u8]; 2] {
        let first = self.pending();
        let Some((_, frame)) = self.shared.front() else {
            return [first, &[]];
        };
        if self.owned_run() > 0 {
            // Owned bytes, then the shared frame that follows them.
            return [first, frame.as_ref()];
        }
        // The shared frame, then the owned bytes up to the next shared frame.
        let owned = self.out.len() - self.pos;
        let run = match self.shared.get(1) {
            Some(&(next, _)) => owned.min(next.saturating_sub(self.owned_written) as usize),
            None => owned,
        };
        [
            first,
            self.out.get(self.pos..self.pos + run).unwrap_or_default(),
        ]
    }

    /// Queues a shared frame after everything queued so far.
    pub(super) fn push_shared(&mut self, frame: bytes::Bytes) {
        if frame.len() <= COPY_SHARED_UP_TO {
            // A small frame costs less to copy than to write on its own: it joins the
            // owned bytes, so one write carries it with its neighbours.
            self.push_raw(&frame);
            return;
        }
        let mark = self.owned_written + (self.out.len() - self.pos) as u64;
        self.shared_len += frame.len();
        self.shared.push_back((mark, frame));
    }

    /// `n` bytes of [`pending`](TxQueue::pending) were written.
    pub(super) fn advance(&mut self, n: usize) {
        if self.shared.is_empty() && self.pongs.is_empty() {
            // Only owned bytes and no pong to account for: the common case, kept short.
            let n = n.min(self.out.len() - self.pos);
            self.pos += n;
            self.owned_written += n as u64;
            self.written += n as u64;
            if self.pos == self.out.len() {
                self.out.clear();
                self.pos = 0;
                if self.pongs.capacity() > 4 {
                    self.pongs = Default::default();
                }
            }
            return;
        }
        // A vectored write may have taken several runs.
        let mut left = n;
        while left > 0 {
            let n = left.min(self.pending().len());
            if n == 0 {
                break;
            }
            left -= n;
            if self.shared.is_empty() || self.owned_run() > 0 {
                self.pos += n;
                self.owned_written += n as u64;
            } else {
                self.shared_pos += n;
                self.shared_len -= n;
                if self
                    .shared
                    .front()
                    .is_some_and(|(_, frame)| self.shared_pos >= frame.len())
                {
                    self.shared.pop_front();
                    self.shared_pos = 0;
                }
            }
            self.written += n as u64;
        }
        while let Some(&end) = self.pongs.front() {
            if end > self.written {
                break;
            }
            self.pongs.pop_front();
        }
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            if self.pongs.is_empty() && self.pongs.capacity() > 4 {
                self.pongs = Default::default();
            }
        }
    }

    /// Makes room for `n` more bytes, moving unwritten bytes to the front rather than growing
    /// when that is enough.
    fn reserve(&mut self, n: usize) {
        if self.pos != 0 && self.out.capacity() - self.out.len() < n {
            self.out.copy_within(self.pos.., 0);
            self.out.truncate(self.out.len() - self.pos);
            self.pos = 0;
        }
        self.out.reserve(n);
    }

    /// Bytes ahead of any frame (the handshake response).
    pub(super) fn push_raw(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    /// Queues one frame, masked with `key` if given.
    pub(super) fn frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: &[u8],
        key: Option<[u8; 4]>,
    ) {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: key,
            payload_len: payload.len() as u64,
        };
        if payload.len() <= SMALL_FRAME {
            // Header and payload assembled on the stack and queued in one copy.
            let mut frame = [0u8; FrameHeader::MAX_LEN + SMALL_FRAME];
            let n = match frame.split_first_chunk_mut::<{ FrameHeader::MAX_LEN }>() {
                Some((head, _)) => header.encode(head),
                None => 0,
            };
            let total = n + payload.len();
            if let Some(body) = frame.get_mut(n..total) {
                body.copy_from_slice(payload);
                if let Some(key) = key {
                    apply_mask(body, key, 0);
                }
            }
            self.reserve(total);
            self.out
                .extend_from_slice(frame.get(..total).unwrap_or_default());
            return;
        }
        self.push_header(&header, payload.len());
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        if let (Some(key), Some(body)) = (key, self.out.get_mut(start..)) {
            apply_mask(body, key, 0);
        }
    }

    /// Queues one unmasked frame whose payload is shared rather than copied, when it is large
    /// enough for that to pay (see `push_shared`).
    fn frame_shared(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &bytes::Bytes) {
        if payload.len() <= COPY_SHARED_UP_TO {
            self.frame(fin, rsv, opcode, payload, None);
            return;
        }
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        self.push_header(&header, 0);
        self.push_shared(payload.clone());
    }

    /// Encodes `header` into the owned bytes, with room for `then` more bytes after it.
    #[inline]
    fn push_header(&mut self, header: &FrameHeader, then: usize) {
        let mut head = [0u8; FrameHeader::MAX_LEN];
        let n = header.encode(&mut head);
        self.reserve(n + then);
        self.out
            .extend_from_slice(head.get(..n).unwrap_or_default());
    }

    /// The offset (in `written` terms) just past the last queued byte.
    pub(super) fn end_offset(&self) -> u64 {
        self.written + self.buffered() as u64
    }

    /// Nothing waits to be written.
    fn is_empty(&self) -> bool {
        self.buffered() == 0
    }

    /// Whether [`release_empty`](Self::release_empty) would give back more than `limit`
    /// bytes.
    #[inline]
    pub(super) fn can_release_above(&self, limit: usize) -> bool {
        self.out.capacity() > limit && self.is_empty()
    }

    /// Frees the queue's memory if it is empty.
    pub(super) fn release_empty(&mut self) {
        if self.is_empty() {
            self.out = Vec::new();
            self.pos = 0;
            self.shared = VecDeque::new();
        }
        if self.pongs.is_empty() {
            self.pongs = Default::default();
        }
    }
}

impl Core {
    /// No message is being received or sent: extensions may drop per-message state.
    pub(super) fn between_messages(&self) -> bool {
        self.msg.is_none() && self.tx_msg.is_none()
    }

    /// Records the latest time passed in; the first one starts the timers.
    pub(super) fn tick(&mut self, now: Instant) {
        let now = match self.now {
            Some(seen) if seen > now => seen,
            _ => now,
        };
        if self.now.is_none() {
            self.last_rx.get_or_insert(now);
            self.idle_since.get_or_insert(now);
        }
        self.now = Some(now);
    }

    /// Bytes arrived: the peer is alive.
    pub(super) fn note_rx(&mut self, now: Instant) {
        let now = self.now.map_or(now, |seen| seen.max(now));
        self.last_rx = Some(now);
        self.ping_sent = None;
    }

    /// A data message was sent or received (re-arms the idle timer; needs no `now`).
    pub(super) fn note_activity(&mut self) {
        if let Some(now) = self.now {
            self.idle_since = Some(now);
        }
    }

    /// Whether incoming bytes are still of interest.
    pub(super) fn accepts_input(&self) -> bool {
        !self.eof && self.rx_mode != super::RxMode::Dead
    }

    /// A masking key for a frame we send, if we are the client: 4 fresh bytes from the entropy
    /// source, drawn 64 bytes (16 keys) at a time into a small pool to keep the per-frame cost
    /// low; each key is wiped from the pool when taken. Without an entropy source the frames
    /// the protocol owes (pong, close reply) go out with a zero key (sends the application
    /// asked for fail with [`SendError::NoEntropy`] instead).
    #[inline]
    pub(super) fn mask_key(&mut self) -> Option<[u8; 4]> {
        if self.role == Role::Server {
            return None;
        }
        let Some(fill) = self.config.random else {
            return Some([0; 4]);
        };
        if self.key_pos >= self.key_pool.len() {
            fill(&mut self.key_pool);
            self.key_pos = 0;
        }
        let mut key = [0u8; 4];
        if let Some(src) = self.key_pool.get_mut(self.key_pos..self.key_pos + 4) {
            key.copy_from_slice(src);
            src.fill(0);
        }
        self.key_pos += 4;
        Some(key)
    }

    /// Checks that we may send frames the application asked for.
    fn check_can_send(&self) -> Result<(), SendError> {
        if self.state != State::Open || self.close_sent {
            return Err(SendError::Closed);
        }
        if self.role == Role::Client && self.config.random.is_none() {
            return Err(SendError::NoEntropy);
        }
        Ok(())
    }

    /// Queues a data message or fragment. `shared` is `data` as shared bytes, if the caller
    /// has them: a server then queues a payload no extension transforms by reference.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_data(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        shared: Option<&bytes::Bytes>,
        fin: bool,
        whole: bool,
        options: super::SendOptions,
        validated: bool,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        match (whole, self.tx_msg) {
            (true, Some(_)) => return Err(SendError::MessageInProgress),
            (false, Some(m)) if m.kind != kind => return Err(SendError::NoMessageInProgress),
            _ => {}
        }
        if self.queue_full() {
            return Err(SendError::Full);
        }
        // The character split between text fragments (only fragments carry one).
        let mut utf8 = Utf8Carry::new();
        if kind == MessageKind::Text && !validated {
            if whole {
                if simdutf8::basic::from_utf8(data).is_err() {
                    return Err(SendError::InvalidUtf8);
                }
            } else {
                utf8 = self.tx_msg.map_or(Utf8Carry::new(), |m| m.utf8);
                utf8.feed(data).map_err(|_| SendError::InvalidUtf8)?;
                if fin && !utf8.is_empty() {
                    return Err(SendError::InvalidUtf8);
                }
            }
        }
        let (opcode, ext, rsv) = match self.tx_msg {
            Some(m) => (OpCode::Continuation, m.ext, 0),
            None => {
                let opcode = match kind {
                    MessageKind::Text => OpCode::Text,
                    MessageKind::Binary => OpCode::Binary,
                };
                let len = if whole { Some(data.len()) } else { None };
                // At most one extension transforms a message: the first that claims it.
                let mut claimed = (None, 0);
                for (i, e) in self.extensions.iter_mut().enumerate() {
                    if let Some(rsv) = e.encode_start(len, options.compress) {
                        claimed = (Some(i), rsv & 0b111);
                        break;
                    }
                }
                (opcode, claimed.0, claimed.1)
            }
        };
        match ext.and_then(|i| self.extensions.get_mut(i)) {
            Some(e) => {
                let mut enc = core::mem::take(&mut self.enc_buf);
                enc.clear();
                let res = e.encode(data, fin, &mut enc);
                if let Err(err) = res {
                    self.enc_buf = enc;
                    self.tx_msg = None;
                    return Err(SendError::Extension(err));
                }
                self.write_data(opcode, rsv, &enc, fin);
                enc.clear();
                self.enc_buf = enc;
            }
            None => match shared {
                Some(payload) if self.role == Role::Server && !self.splits(payload.len()) => {
                    self.tx.frame_shared(fin, rsv, opcode, payload);
                }
                _ => self.write_data(opcode, rsv, data, fin),
            },
        }
        if !whole {
            // A whole message began and ended with no message in progress: nothing to record.
            self.tx_msg = if fin {
                None
            } else {
                Some(TxMsg { kind, ext, utf8 })
            };
        }
        self.note_activity();
        Ok(())
    }

    /// Whether a payload this long goes out in several frames (`fragment_size`).
    fn splits(&self, len: usize) -> bool {
        self.config
            .fragment_size
            .is_some_and(|size| size > 0 && len > size)
    }

    /// Frames a payload, split per `fragment_size`.
    #[inline(always)]
    fn write_data(&mut self, opcode: OpCode, rsv: u8, payload: &[u8], fin: bool) {
        match self.config.fragment_size {
            Some(size) if self.splits(payload.len()) => {
                let mut chunks = payload.chunks(size).peekable();
                let mut first = true;
                while let Some(chunk) = chunks.next() {
                    let last = chunks.peek().is_none();
                    let (op, bits) = if first {
                        (opcode, rsv)
                    } else {
                        (OpCode::Continuation, 0)
                    };
                    let key = self.mask_key();
                    self.tx.frame(fin && last, bits, op, chunk, key);
                    first = false;
                }
            }
            _ => {
                let key = self.mask_key();
                self.tx.frame(fin, rsv, opcode, payload, key);
            }
        }
    }

    /// Queues a message encoded once for many connections (see [`PreparedFrame`]).
    pub(super) fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.tx_msg.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.queue_full() {
            return Err(SendError::Full);
        }
        let deflate = self.extensions.iter().find_map(|e| e.permessage_deflate());
        let others = self
            .extensions
            .iter()
            .any(|e| e.permessage_deflate().is_none());
        if self.role == Role::Client || others || self.config.fragment_size.is_some() {
            // Masked per frame, transformed by another extension, or fragmented: this
            // connection encodes the payload itself.
            return self.send_data(
                frame.kind(),
                frame.payload(),
                None,
                true,
                true,
                super::SendOptions::new(),
                true,
            );
        }
        let shared = match (frame.deflated(), deflate) {
            (Some(deflated), Some(agreed))
                if agreed.server_no_context_takeover && agreed.server_max_window_bits == 15 =>
            {
                deflated
            }
            _ => frame.plain(),
        };
        self.tx.push_shared(shared.clone());
        self.note_activity();
        Ok(())
    }

    /// Queues a ping or pong the application asked for.
    pub(super) fn send_control(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if data.len() > 125 {
            return Err(SendError::ControlTooLong);
        }
        if opcode == OpCode::Ping && self.queue_full() {
            return Err(SendError::Full);
        }
        let key = self.mask_key();
        self.tx.frame(true, 0, opcode, data, key);
        Ok(())
    }

    /// Whether new data (and pings) must wait: the send queue is at its cap. An empty queue
    /// always takes one more message, so a cap of 0 sends one message at a time instead of
    /// none ever.
    fn queue_full(&self) -> bool {
        let queued = self.tx.buffered();
        queued > 0 && queued >= self.config.max_send_queue
    }

    /// Queues the pong the protocol owes for a ping (never refused; counted against
    /// `max_pending_pongs`).
    pub(super) fn queue_auto_pong(&mut self, payload: &[u8]) {
        let key = self.mask_key();
        self.tx.frame(true, 0, OpCode::Pong, payload, key);
        let end = self.tx.end_offset();
        self.tx.pongs.push_back(end);
    }
}
