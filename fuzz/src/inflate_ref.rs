//! An independent raw-deflate decoder (RFC 1951) for the oracles: it keeps the history of earlier
//! messages (context takeover) and refuses any back-reference farther than the agreed window, so
//! a compressor that reaches past a window below 32 KiB is caught, and reports the farthest
//! back-reference it met (the window tests in `tests/deflate_window.rs` include this file too).
//! Slow and simple on purpose; never panics, whatever the input.

/// Why a stream was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// Not a valid deflate stream (or cut short).
    Malformed,
    /// A back-reference `distance` bytes back, beyond the window.
    TooFar { distance: usize, window: usize },
    /// More output than the cap.
    TooLarge,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, RefError> {
        let byte = *self.data.get(self.pos / 8).ok_or(RefError::Malformed)?;
        let b = (byte >> (self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }
    fn bits(&mut self, n: u32) -> Result<u32, RefError> {
        let mut acc = 0;
        for i in 0..n {
            acc |= self.bit()? << i;
        }
        Ok(acc)
    }
    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }
    fn at_end(&self) -> bool {
        self.pos.div_ceil(8) >= self.data.len()
    }
}

struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        let mut offs = [0u16; 16];
        for i in 1..16 {
            offs[i] = offs[i - 1] + counts[i - 1];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[usize::from(offs[usize::from(l)])] = s as u16;
                offs[usize::from(l)] += 1;
            }
        }
        Huffman { counts, symbols }
    }
    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, RefError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit()? as i32;
            let count = i32::from(self.counts[len]);
            if code - count < first {
                let at = (index + (code - first)) as usize;
                return self.symbols.get(at).copied().ok_or(RefError::Malformed);
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err(RefError::Malformed)
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The permessage-deflate receiver of one direction (RFC 7692 §7.2.2), window-exact.
#[derive(Clone, Debug)]
pub struct RefInflater {
    window: usize,
    takeover: bool,
    history: Vec<u8>,
    max_output: usize,
    max_distance: usize,
}

impl RefInflater {
    /// A receiver for a sender whose LZ77 window is `2^window_bits` bytes; `takeover`: the
    /// sender keeps its context between messages.
    pub fn new(window_bits: u8, takeover: bool, max_output: usize) -> Self {
        RefInflater {
            window: 1 << window_bits.clamp(8, 15),
            takeover,
            history: Vec::new(),
            max_output,
            max_distance: 0,
        }
    }

    /// The farthest back-reference decoded so far, in bytes.
    pub fn max_distance(&self) -> usize {
        self.max_distance
    }

    /// Decodes one message's compressed payload (the connection strips the 00 00 ff ff
    /// trailer; it is appended here). On error the history is unknown: call no more.
    pub fn message(&mut self, payload: &[u8]) -> Result<Vec<u8>, RefError> {
        let mut data = payload.to_vec();
        data.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let start = self.history.len();
        let mut out = core::mem::take(&mut self.history);
        let ended = self.inflate(&data, &mut out, start)?;
        let message = out[start..].to_vec();
        if self.takeover && !ended {
            let keep = out.len().saturating_sub(32 * 1024);
            out.drain(..keep);
            self.history = out;
        }
        Ok(message)
    }

    /// Inflates onto `out` (which holds `start` bytes of history); true if a final block ended
    /// the stream (the next message starts a fresh one).
    fn inflate(&mut self, data: &[u8], out: &mut Vec<u8>, start: usize) -> Result<bool, RefError> {
        let mut bits = Bits { data, pos: 0 };
        while !bits.at_end() {
            let last = bits.bit()?;
            match bits.bits(2)? {
                0 => {
                    bits.align();
                    let len = bits.bits(16)?;
                    let nlen = bits.bits(16)?;
                    if len ^ 0xffff != nlen {
                        return Err(RefError::Malformed);
                    }
                    for _ in 0..len {
                        out.push(bits.bits(8)? as u8);
                    }
                }
                kind @ (1 | 2) => {
                    let (lit, dist) = if kind == 1 {
                        let mut l = [8u8; 288];
                        l[144..256].fill(9);
                        l[256..280].fill(7);
                        (Huffman::new(&l), Huffman::new(&[5u8; 30]))
                    } else {
                        let hlit = bits.bits(5)? as usize + 257;
                        let hdist = bits.bits(5)? as usize + 1;
                        let hclen = bits.bits(4)? as usize + 4;
                        const ORDER: [usize; 19] = [
                            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                        ];
                        let mut cl = [0u8; 19];
                        for &i in ORDER.iter().take(hclen) {
                            cl[i] = bits.bits(3)? as u8;
                        }
                        let clh = Huffman::new(&cl);
                        let mut lengths = Vec::new();
                        while lengths.len() < hlit + hdist {
                            match clh.decode(&mut bits)? {
                                s @ 0..=15 => lengths.push(s as u8),
                                16 => {
                                    let prev = *lengths.last().ok_or(RefError::Malformed)?;
                                    for _ in 0..3 + bits.bits(2)? {
                                        lengths.push(prev);
                                    }
                                }
                                17 => lengths
                                    .extend(std::iter::repeat_n(0, 3 + bits.bits(3)? as usize)),
                                _ => lengths
                                    .extend(std::iter::repeat_n(0, 11 + bits.bits(7)? as usize)),
                            }
                        }
                        if lengths.len() != hlit + hdist {
                            return Err(RefError::Malformed);
                        }
                        (
                            Huffman::new(&lengths[..hlit]),
                            Huffman::new(&lengths[hlit..]),
                        )
                    };
                    loop {
                        let sym = usize::from(lit.decode(&mut bits)?);
                        if sym < 256 {
                            out.push(sym as u8);
                        } else if sym == 256 {
                            break;
                        } else {
                            let i = sym - 257;
                            let (&base, &extra) = LEN_BASE
                                .get(i)
                                .zip(LEN_EXTRA.get(i))
                                .ok_or(RefError::Malformed)?;
                            let len = usize::from(base) + bits.bits(u32::from(extra))? as usize;
                            let d = usize::from(dist.decode(&mut bits)?);
                            let (&base, &extra) = DIST_BASE
                                .get(d)
                                .zip(DIST_EXTRA.get(d))
                                .ok_or(RefError::Malformed)?;
                            let distance =
                                usize::from(base) + bits.bits(u32::from(extra))? as usize;
                            if distance > out.len() {
                                return Err(RefError::Malformed);
                            }
                            self.max_distance = self.max_distance.max(distance);
                            if distance > self.window {
                                return Err(RefError::TooFar {
                                    distance,
                                    window: self.window,
                                });
                            }
                            for _ in 0..len {
                                out.push(out[out.len() - distance]);
                            }
                        }
                        if out.len() - start > self.max_output {
                            return Err(RefError::TooLarge);
                        }
                    }
                }
                _ => return Err(RefError::Malformed),
            }
            if out.len() - start > self.max_output {
                return Err(RefError::TooLarge);
            }
            if last == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
