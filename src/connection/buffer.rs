//! The receive-side buffers that events borrow from: the input buffer (bytes from the peer,
//! unmasked in place) and the message buffer (fragmented or decoded messages).
//!
//! They live apart from the rest of the connection state so that `poll_event` can lend a slice
//! of them while still updating the state (the borrow checker sees disjoint fields).

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::frame::apply_mask;
use crate::frame::mask::copy_masked;
use crate::utf8::Utf8Carry;

/// A connection holding a buffer larger than this arms its release timer
/// ([`Config::release_buffers_after`](crate::Config::release_buffers_after)); it also bounds
/// how much unprocessed input is read ahead.
pub(crate) const SHRINK_ABOVE: usize = 64 * 1024;

/// An input buffer this large is compacted whenever it runs out of room, rather than grown
/// (see [`RecvBuf::make_room`]).
const COMPACT_ABOVE: usize = 2 << 20;

/// Smallest growth step of the input buffer for [`RecvBuf::spare`].
const MIN_GROW: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct RecvBuf {
    /// `data[..data.len()]` is initialised; `data[start..end]` holds unprocessed input.
    pub(crate) data: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Input bytes lent by the last event, consumed at the next [`RecvBuf::settle`].
    pub(crate) discard: usize,
    /// Payload bytes of the frame whose header is next in the input, already unmasked as
    /// they were copied in (`Core::push_next`); taken when that header is parsed.
    pub(crate) head_unmasked: usize,
    /// The message being reassembled or decoded.
    pub(crate) msg: MsgBuf,
    /// Bytes at the front of `msg` lent by the last event, removed at the next settle.
    pub(crate) msg_drain: usize,
    /// A character split between streamed text frames (lent as a one-character chunk).
    pub(crate) carry: Utf8Carry,
    pub(crate) carry_lent: bool,
    /// A large single-frame binary message, assembled in memory its `Bytes` can own (see
    /// [`RecvBuf::take_owned`]); the input is read straight into it where the driver can.
    /// Boxed: most connections never have one, and an idle connection stays small.
    pub(crate) owned: Option<Box<BytesMut>>,
    /// The last event lent `owned` (cleared at the next settle unless taken).
    pub(crate) owned_lent: bool,
}

impl RecvBuf {
    /// Releases what the previous event borrowed. Called at the start of every `&mut` verb.
    #[inline]
    pub(crate) fn settle(&mut self) {
        if self.discard != 0 {
            self.start = self.start.saturating_add(self.discard).min(self.end);
            self.discard = 0;
        }
        if self.start == self.end && self.start != 0 {
            self.start = 0;
            self.end = 0;
        }
        if self.msg_drain != 0 {
            self.msg.drain_front(self.msg_drain);
            self.msg_drain = 0;
        }
        if self.carry_lent {
            self.carry.clear();
            self.carry_lent = false;
        }
        if self.owned_lent {
            self.clear_owned();
            self.owned_lent = false;
        }
    }

    /// Gives memory back: frees the buffers that are empty, and cuts a large input buffer that
    /// holds only the start of the next frame down to what it holds. Nothing lent is touched.
    pub(crate) fn release_unused(&mut self) {
        if self.input_unused() {
            if self.start == self.end {
                self.data = Vec::new();
                self.start = 0;
                self.end = 0;
            } else {
                self.compact();
                self.data.truncate(self.end.max(MIN_GROW));
                self.data.shrink_to_fit();
            }
        }
        if self.msg_unused() {
            self.msg = MsgBuf::default();
        }
        if self.owned.as_ref().is_some_and(|o| o.is_empty()) && !self.owned_lent {
            self.owned = None;
        }
    }

    /// Whether [`release_unused`](Self::release_unused) would give back a buffer of more
    /// than `limit` bytes.
    #[inline]
    pub(crate) fn can_release_above(&self, limit: usize) -> bool {
        (self.data.capacity() > limit && self.input_unused())
            || (self.msg.capacity() > limit && self.msg_unused())
            || (!self.owned_lent
                && (self.owned.as_ref()).is_some_and(|o| o.capacity() > limit && o.is_empty()))
    }

    /// The input buffer is mostly unused: nothing lent from it, and what it holds fills at
    /// most a quarter of it.
    fn input_unused(&self) -> bool {
        self.discard == 0 && self.available().saturating_mul(4) <= self.data.capacity()
    }

    /// The message buffer holds nothing.
    fn msg_unused(&self) -> bool {
        self.msg.is_empty() && self.msg_drain == 0
    }

    /// Unprocessed input.
    #[inline]
    pub(crate) fn input(&self) -> &[u8] {
        self.data.get(self.start..self.end).unwrap_or_default()
    }

    /// Unprocessed input, mutable (for unmasking in place).
    #[inline]
    pub(crate) fn input_mut(&mut self) -> &mut [u8] {
        self.data.get_mut(self.start..self.end).unwrap_or_default()
    }

    /// Number of unprocessed input bytes.
    #[inline]
    pub(crate) fn available(&self) -> usize {
        self.end - self.start
    }

    /// Drops `n` bytes of unprocessed input.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
    }

    /// Drops all unprocessed input.
    pub(crate) fn clear_input(&mut self) {
        self.start = 0;
        self.end = 0;
        self.discard = 0;
        self.head_unmasked = 0;
    }

    /// Before `n` more bytes are appended: moves the unprocessed input to the front if the
    /// space after it is short and moving is cheap (it fills at most a quarter of the
    /// buffer), or the buffer is already large. Otherwise the caller grows the buffer instead:
    /// a frame that straddles reads is then not copied again at every read, and the next
    /// compaction, frames later, moves at most a quarter of the buffer.
    #[inline]
    fn make_room(&mut self, n: usize) {
        if self.data.len() - self.end < n
            && (self.available().saturating_mul(4) <= self.data.len()
                || self.data.len() >= COMPACT_ABOVE)
        {
            self.compact();
        }
    }

    /// Moves unprocessed input to the front of the buffer.
    fn compact(&mut self) {
        if self.start != 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Appends bytes from the peer. Memory already initialised is reused; new memory is written
    /// once by the copy, never zero-filled.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.append(bytes, None);
    }

    /// Appends payload bytes from the peer unmasked with `key` (they start `offset` bytes into
    /// their frame's payload): into reused memory in the same pass as the copy.
    pub(crate) fn push_unmasked(&mut self, bytes: &[u8], key: [u8; 4], offset: usize) {
        self.append(bytes, Some((key, offset)));
    }

    #[inline]
    fn append(&mut self, bytes: &[u8], mask: Option<([u8; 4], usize)>) {
        self.make_room(bytes.len());
        let spare = self.data.len() - self.end;
        let (now, later) = bytes.split_at(spare.min(bytes.len()));
        if let Some(dst) = self.data.get_mut(self.end..self.end + now.len()) {
            match mask {
                Some((key, offset)) => copy_masked(dst, now, key, offset),
                None => dst.copy_from_slice(now),
            }
        }
        if !later.is_empty() {
            let grown = self.data.len();
            self.data.extend_from_slice(later);
            if let (Some((key, offset)), Some(new)) = (mask, self.data.get_mut(grown..)) {
                apply_mask(new, key, offset + now.len());
            }
        }
        self.end += bytes.len();
    }

    /// At least `min` bytes of spare, initialised capacity after the unprocessed input. Only
    /// memory the buffer never had is zero-filled (once).
    pub(crate) fn spare(&mut self, min: usize) -> &mut [u8] {
        self.make_room(min);
        if self.data.len() - self.end < min {
            let want = self.end.saturating_add(min.max(MIN_GROW));
            // Grow geometrically so that repeated small requests do not reallocate each time.
            let want = want.max(
                self.data
                    .len()
                    .saturating_mul(2)
                    .min(want.saturating_add(SHRINK_ABOVE)),
            );
            self.data.resize(want, 0);
        }
        self.data.get_mut(self.end..).unwrap_or_default()
    }

    /// `n` bytes of [`RecvBuf::spare`] were filled.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n).min(self.data.len());
    }

    /// Heap bytes held (capacity).
    pub(crate) fn capacity(&self) -> usize {
        let owned = self.owned.as_ref().map_or(0, |o| o.capacity());
        self.data.capacity() + self.msg.capacity() + owned
    }

    /// Readies `owned` for a message of `len` bytes: the memory of the last one is reused once
    /// the application has dropped it (and it does not pin too much), else a buffer of this
    /// size is allocated. Its capacity is exactly what the message needs, so reads into it
    /// never reallocate.
    pub(crate) fn start_owned(&mut self, len: usize) {
        let owned = self.owned_mut();
        owned.clear();
        if !owned.try_reclaim(len) || pins_too_much(owned.capacity(), len) {
            *owned = BytesMut::with_capacity(len);
        }
    }

    /// The buffer of a message assembled in owned memory (made on first use).
    pub(crate) fn owned_mut(&mut self) -> &mut BytesMut {
        self.owned.get_or_insert_with(Box::default)
    }

    /// What `owned` holds.
    pub(crate) fn owned_bytes(&self) -> &[u8] {
        self.owned.as_deref().map_or(&[], |o| &o[..])
    }

    /// Empties `owned` (keeping its memory).
    pub(crate) fn clear_owned(&mut self) {
        if let Some(o) = &mut self.owned {
            o.clear();
        }
    }

    /// Copies `len` bytes of unprocessed input (payload bytes starting `offset` bytes into
    /// their frame's payload) to `owned`, unmasked with `key` where they landed (`BytesMut` has
    /// no initialised spare memory to unmask into while copying); the caller consumes them.
    pub(crate) fn input_to_owned(&mut self, len: usize, key: Option<[u8; 4]>, offset: usize) {
        let from = self.start;
        let piece = self.data.get(from..from + len).unwrap_or_default();
        let owned = self.owned.get_or_insert_with(Box::default);
        let at = owned.len();
        owned.extend_from_slice(piece);
        if let (Some(key), Some(new)) = (key, owned.get_mut(at..)) {
            apply_mask(new, key, offset);
        }
    }

    /// The message lent from `owned` by the last event, as `Bytes` without a copy.
    pub(crate) fn take_owned(&mut self) -> Bytes {
        self.owned_lent = false;
        self.owned
            .as_mut()
            .map(|o| o.split().freeze())
            .unwrap_or_default()
    }
}

/// A kept message never holds memory over 64 KiB and four times its own size.
const PIN_LIMIT: usize = 64 * 1024;

/// Whether a buffer of `capacity` is too large to hold a message of `len` bytes: if the
/// application kept the message, it would pin all of that.
pub(crate) fn pins_too_much(capacity: usize, len: usize) -> bool {
    capacity > PIN_LIMIT && capacity / 4 > len
}

/// The message buffer: `data[..len]` holds the message; the rest of `data` is initialised
/// memory kept for the next bytes, so that a masked frame is unmasked while it is copied in
/// (one pass, no zero-fill).
#[derive(Debug, Default)]
pub(crate) struct MsgBuf {
    data: Vec<u8>,
    len: usize,
}

impl MsgBuf {
    /// The message so far.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a frame's payload bytes, unmasking them with `key` (the bytes start `offset`
    /// bytes into the payload) in the same pass when the memory was initialised before.
    #[inline(always)]
    pub(crate) fn extend(&mut self, bytes: &[u8], key: Option<[u8; 4]>, offset: usize) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.data.get_mut(self.len..end) {
            match key {
                Some(key) => copy_masked(dst, bytes, key, offset),
                None => dst.copy_from_slice(bytes),
            }
        } else {
            // New memory: written once by the copy, then unmasked in place.
            self.data.truncate(self.len);
            self.data.extend_from_slice(bytes);
            if let (Some(key), Some(new)) = (key, self.data.get_mut(self.len..)) {
                apply_mask(new, key, offset);
            }
        }
        self.len = end;
    }

    /// The buffer as a `Vec` holding just the message, for an extension to decode into.
    pub(crate) fn vec(&mut self) -> &mut Vec<u8> {
        self.data.truncate(self.len);
        &mut self.data
    }

    /// After [`vec`](Self::vec): the message is what the `Vec` holds.
    pub(crate) fn sync(&mut self) {
        self.len = self.data.len();
    }

    /// Removes the first `n` bytes.
    fn drain_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.data.copy_within(n..self.len, 0);
        self.len -= n;
    }

    pub(crate) fn capacity(&self) -> usize {
        self.data.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn push_and_spare_reuse_memory() {
        let mut b = RecvBuf::default();
        b.push(&[7; 100]);
        b.consume(90);
        // Little left: moved to the front rather than grown.
        let spare = b.spare(200);
        assert!(spare.len() >= 200);
        spare[..3].copy_from_slice(b"abc");
        b.commit(3);
        assert_eq!(b.start, 0, "compacted before growing");
        assert_eq!(b.input().len(), 13);
        assert_eq!(&b.input()[10..], b"abc");
        let len = b.data.len();
        b.consume(13);
        b.settle();
        assert_eq!((b.start, b.end), (0, 0));
        b.push(b"xyz");
        assert_eq!(b.data.len(), len, "initialised memory reused, not regrown");
    }

    #[test]
    fn a_large_remainder_is_not_moved_at_every_read() {
        // A frame straddling reads fills most of the buffer: it grows instead of moving it,
        // and the next compaction moves at most a quarter of the buffer.
        let mut b = RecvBuf::default();
        b.push(&[1; 1000]);
        b.consume(100);
        b.push(&[2; 1000]);
        assert_eq!(b.start, 100, "not moved: 900 of 1000 bytes were left");
        assert_eq!(b.input().len(), 1900);
        b.consume(1850);
        b.push(&vec![3; b.data.len()]);
        assert_eq!(b.start, 0, "moved: 50 bytes");
        assert_eq!(&b.input()[..50], &[2; 50][..]);
    }
}
