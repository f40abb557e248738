//! A small, independent raw-deflate decoder (RFC 1951) for the tests: it inflates a stream and
//! reports the largest back-reference distance used, so window limits can be checked without
//! zlib. Slow and simple on purpose; panics on malformed input (tests only).

pub struct Decoded {
    pub output: Vec<u8>,
    pub max_distance: usize,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize, // in bits
}

impl Bits<'_> {
    fn bit(&mut self) -> u32 {
        let byte = self.data[self.pos / 8];
        let b = (byte >> (self.pos % 8)) & 1;
        self.pos += 1;
        b as u32
    }
    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |acc, i| acc | (self.bit() << i))
    }
    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }
    fn at_end(&self) -> bool {
        self.pos.div_ceil(8) >= self.data.len()
    }
}

/// Canonical Huffman code: (length, code) -> symbol, decoded bit by bit.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Self {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[l as usize] += 1;
        }
        counts[0] = 0;
        let mut offs = [0u16; 16];
        for i in 1..16 {
            offs[i] = offs[i - 1] + counts[i - 1];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[offs[l as usize] as usize] = s as u16;
                offs[l as usize] += 1;
            }
        }
        Huffman { counts, symbols }
    }
    fn decode(&self, bits: &mut Bits<'_>) -> u16 {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit() as i32;
            let count = self.counts[len] as i32;
            if code - count < first {
                return self.symbols[(index + (code - first)) as usize];
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        panic!("bad huffman code");
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

/// Inflates a whole raw deflate stream (blocks until the input ends or a final block).
pub fn inflate(data: &[u8]) -> Decoded {
    let mut bits = Bits { data, pos: 0 };
    let mut out = Vec::new();
    let mut max_distance = 0;
    while !bits.at_end() {
        let last = bits.bit();
        match bits.bits(2) {
            0 => {
                bits.align();
                let len = bits.bits(16);
                let nlen = bits.bits(16);
                assert_eq!(len ^ 0xffff, nlen, "stored length");
                for _ in 0..len {
                    out.push(bits.bits(8) as u8);
                }
            }
            kind @ (1 | 2) => {
                let (lit, dist) = if kind == 1 {
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    (Huffman::new(&l), Huffman::new(&[5u8; 30]))
                } else {
                    let hlit = bits.bits(5) as usize + 257;
                    let hdist = bits.bits(5) as usize + 1;
                    let hclen = bits.bits(4) as usize + 4;
                    const ORDER: [usize; 19] = [
                        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                    ];
                    let mut cl = [0u8; 19];
                    for &i in ORDER.iter().take(hclen) {
                        cl[i] = bits.bits(3) as u8;
                    }
                    let clh = Huffman::new(&cl);
                    let mut lengths = Vec::new();
                    while lengths.len() < hlit + hdist {
                        match clh.decode(&mut bits) {
                            s @ 0..=15 => lengths.push(s as u8),
                            16 => {
                                let prev = *lengths.last().unwrap();
                                for _ in 0..3 + bits.bits(2) {
                                    lengths.push(prev);
                                }
                            }
                            17 => lengths.extend(std::iter::repeat_n(0, 3 + bits.bits(3) as usize)),
                            _ => lengths.extend(std::iter::repeat_n(0, 11 + bits.bits(7) as usize)),
                        }
                    }
                    (
                        Huffman::new(&lengths[..hlit]),
                        Huffman::new(&lengths[hlit..]),
                    )
                };
                loop {
                    let sym = lit.decode(&mut bits) as usize;
                    if sym < 256 {
                        out.push(sym as u8);
                    } else if sym == 256 {
                        break;
                    } else {
                        let i = sym - 257;
                        let len = LEN_BASE[i] as usize + bits.bits(LEN_EXTRA[i] as u32) as usize;
                        let d = dist.decode(&mut bits) as usize;
                        let distance =
                            DIST_BASE[d] as usize + bits.bits(DIST_EXTRA[d] as u32) as usize;
                        assert!(
                            distance <= out.len(),
                            "distance {distance} before the start"
                        );
                        max_distance = max_distance.max(distance);
                        for _ in 0..len {
                            out.push(out[out.len() - distance]);
                        }
                    }
                }
            }
            _ => panic!("reserved block type"),
        }
        if last == 1 {
            break;
        }
    }
    Decoded {
        output: out,
        max_distance,
    }
}
