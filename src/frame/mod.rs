//! Wire format (RFC 6455 §5.2): frame headers, masking, close codes. No state.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! [`FrameHeader::parse`] never panics and never allocates; it checks only what the header alone
//! decides (the length encoding). Which opcodes, RSV bits and masks are acceptable depends on the
//! connection's role and extensions and is checked by the [`Connection`](crate::Connection).

mod close;
pub mod mask;
mod prepared;

pub use close::CloseCode;
pub use mask::apply_mask;
#[doc(hidden)]
pub use mask::apply_mask_naive;
pub use prepared::PreparedFrame;

use crate::{ProtocolError, Status};

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented data message.
    Continuation,
    /// 0x1: first frame of a text message.
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
    /// 0x3–0x7 and 0xB–0xF: reserved (a connection fails with 1002).
    Reserved(u8),
}

impl OpCode {
    /// The opcode of the low four bits of `bits`.
    pub const fn from_bits(bits: u8) -> OpCode {
        match bits & 0x0F {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(bits) => bits & 0x0F,
        }
    }

    /// Whether this is a control opcode (0x8–0xF).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x08 != 0
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this frame ends its message.
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit value (RSV1 = `0b100`, see [`crate::extension::RSV1`]).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The longest possible header: 2 + 8 (64-bit length) + 4 (mask).
    pub const MAX_LEN: usize = 14;

    /// Parses a header from the start of `bytes`: `Complete((header, header_len))`, or
    /// `Partial` if more bytes are needed.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidLength`] for a 64-bit length with its top bit set, or a length not
    /// encoded in the minimal number of bytes (RFC 6455 §5.2 "the minimal number of bytes MUST be
    /// used").
    ///
    /// ```
    /// use wsproto::frame::{FrameHeader, OpCode};
    /// use wsproto::Status;
    /// // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    /// let Status::Complete((h, n)) = FrameHeader::parse(&[0x81, 0x05, b'H']).unwrap() else { panic!() };
    /// assert_eq!((h.fin, h.opcode, h.mask, h.payload_len, n), (true, OpCode::Text, None, 5, 2));
    /// ```
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = bytes else {
            return Ok(Status::Partial);
        };
        let (b0, b1) = (*b0, *b1);
        let masked = b1 & 0x80 != 0;
        let (payload_len, rest, len_bytes) = match b1 & 0x7F {
            126 => {
                let Some((ext, rest)) = rest.split_first_chunk::<2>() else {
                    return Ok(Status::Partial);
                };
                let len = u64::from(u16::from_be_bytes(*ext));
                if len < 126 {
                    return Err(ProtocolError::InvalidLength);
                }
                (len, rest, 2)
            }
            127 => {
                let Some((ext, rest)) = rest.split_first_chunk::<8>() else {
                    return Ok(Status::Partial);
                };
                let len = u64::from_be_bytes(*ext);
                if len >> 63 != 0 || len <= 0xFFFF {
                    return Err(ProtocolError::InvalidLength);
                }
                (len, rest, 8)
            }
            short => (u64::from(short), rest, 0),
        };
        let mask = if masked {
            let Some((key, _)) = rest.split_first_chunk::<4>() else {
                return Ok(Status::Partial);
            };
            Some(*key)
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode: OpCode::from_bits(b0),
            mask,
            payload_len,
        };
        Ok(Status::Complete((
            header,
            2 + len_bytes + if masked { 4 } else { 0 },
        )))
    }

    /// The encoded length of this header.
    pub const fn encoded_len(&self) -> usize {
        let len = if self.payload_len < 126 {
            2
        } else if self.payload_len <= 0xFFFF {
            4
        } else {
            10
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Encodes this header into `out`, returning the number of bytes written
    /// ([`encoded_len`](FrameHeader::encoded_len)). Lengths are encoded minimally.
    ///
    /// ```
    /// use wsproto::frame::{FrameHeader, OpCode};
    /// let h = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, payload_len: 256 };
    /// let mut out = [0u8; FrameHeader::MAX_LEN];
    /// let n = h.encode(&mut out);
    /// assert_eq!(&out[..n], &[0x82, 0x7E, 0x01, 0x00]);
    /// ```
    #[inline]
    pub fn encode(&self, out: &mut [u8; FrameHeader::MAX_LEN]) -> usize {
        let [b0, b1, rest @ ..] = out;
        *b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let (n, rest) = if self.payload_len < 126 {
            *b1 = mask_bit | self.payload_len as u8;
            (2, rest.as_mut_slice())
        } else if let Ok(len16) = u16::try_from(self.payload_len) {
            *b1 = mask_bit | 126;
            let (ext, rest) = rest.split_at_mut(2);
            ext.copy_from_slice(&len16.to_be_bytes());
            (4, rest)
        } else {
            *b1 = mask_bit | 127;
            let (ext, rest) = rest.split_at_mut(8);
            ext.copy_from_slice(&self.payload_len.to_be_bytes());
            (10, rest)
        };
        match self.mask {
            Some(key) => {
                if let Some(dst) = rest.first_chunk_mut::<4>() {
                    *dst = key;
                }
                n + 4
            }
            None => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(bytes)
    }

    fn complete(bytes: &[u8]) -> (FrameHeader, usize) {
        match parse(bytes).unwrap() {
            Status::Complete(v) => v,
            Status::Partial => panic!("partial"),
        }
    }

    #[test]
    fn rfc_examples() {
        // §5.7 unmasked "Hello"
        let (h, n) = complete(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(n, 2);
        assert_eq!(
            h,
            FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Text,
                mask: None,
                payload_len: 5
            }
        );
        // masked "Hello"
        let (h, n) = complete(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        // fragmented: first and last
        let (h, _) = complete(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode, h.payload_len), (false, OpCode::Text, 3));
        let (h, _) = complete(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!(
            (h.fin, h.opcode, h.payload_len),
            (true, OpCode::Continuation, 2)
        );
        // 256 bytes binary, 64 KiB binary
        let (h, n) = complete(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.payload_len, n), (256, 4));
        let (h, n) = complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn partial_at_every_prefix() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for i in 0..full.len() {
            assert_eq!(parse(&full[..i]).unwrap(), Status::Partial, "{i}");
        }
        let (h, n) = complete(&full);
        assert_eq!((h.payload_len, h.mask, n), (65536, Some([1, 2, 3, 4]), 14));
    }

    #[test]
    fn invalid_lengths() {
        assert_eq!(
            parse(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidLength)
        );
        assert_eq!(
            parse(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(ProtocolError::InvalidLength)
        );
        assert_eq!(
            parse(&[0x82, 0x7E, 0, 125]),
            Err(ProtocolError::InvalidLength)
        );
        assert!(parse(&[0x82, 0x7E, 0, 126]).is_ok());
    }

    #[test]
    fn bits() {
        let (h, _) = complete(&[0x7A, 0x00]);
        assert_eq!((h.fin, h.rsv, h.opcode), (false, 0b111, OpCode::Pong));
        let (h, _) = complete(&[0x43, 0x00]);
        assert_eq!((h.rsv, h.opcode), (0b100, OpCode::Reserved(3)));
        for op in 0..16u8 {
            assert_eq!(OpCode::from_bits(op).as_u8(), op);
            assert_eq!(OpCode::from_bits(op).is_control(), op >= 8);
        }
    }

    #[test]
    fn encode_roundtrip() {
        for len in [0u64, 1, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let h = FrameHeader {
                    fin: len % 2 == 0,
                    rsv: 0b101,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut out = [0u8; FrameHeader::MAX_LEN];
                let n = h.encode(&mut out);
                assert_eq!(n, h.encoded_len());
                assert_eq!(complete(&out[..n]), (h, n));
            }
        }
    }
}
