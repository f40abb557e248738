//! Frame parsers for the oracles, independent of the crate's own: a lenient one for the peer's
//! (arbitrary) input, and a strict one that checks everything a connection writes.

use wsproto::CloseCode;

/// One frame, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Parses one frame structurally; `None` if `wire` holds no whole frame. Nothing is checked.
pub fn parse_one(wire: &[u8]) -> Option<(Frame, usize)> {
    let (&b0, &b1) = (wire.first()?, wire.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(wire.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(wire.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let masked = b1 & 0x80 != 0;
    let key = if masked {
        let k: [u8; 4] = wire.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        k
    } else {
        [0; 4]
    };
    let len = usize::try_from(len).ok()?;
    let end = at.checked_add(len)?;
    let payload = wire
        .get(at..end)?
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    Some((
        Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: b0 & 0x0f,
            masked,
            payload,
        },
        end,
    ))
}

/// Every whole frame at the front of `wire` (a cut-off last frame is left out).
pub fn parse_lenient(mut wire: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some((f, n)) = parse_one(wire) {
        out.push(f);
        wire = &wire[n..];
    }
    out
}

/// A message or control frame as it went out on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    /// A whole data message: (text?, compressed?, payload as on the wire, frame count).
    Message {
        text: bool,
        compressed: bool,
        payload: Vec<u8>,
        frames: usize,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Our Close: code (None: no status), reason.
    Close(Option<u16>, String),
}

/// Parses everything a connection of the sending role wrote, asserting that it is a valid
/// frame stream (RFC 6455 §5): minimal lengths, masking by role, known opcodes, RSV1 only on
/// the first frame of a compressed message (and only if `deflate`), control frames whole and
/// short, continuation frames only inside a message, a valid Close, and nothing after it.
/// `complete`: the stream must end on a frame boundary (else a cut-off tail is allowed).
pub fn parse_strict(wire: &[u8], from_client: bool, deflate: bool, complete: bool) -> Vec<Out> {
    let mut out = Vec::new();
    let mut rest = wire;
    let mut open: Option<(bool, bool, Vec<u8>, usize)> = None;
    let mut closed = false;
    while !rest.is_empty() {
        let Some((f, n)) = parse_one(rest) else {
            assert!(!complete, "a cut-off frame at the end: {rest:02x?}");
            break;
        };
        // Minimal length encoding.
        let len = f.payload.len();
        let field = rest[1] & 0x7f;
        match field {
            126 => assert!(len >= 126, "16-bit length for {len} bytes"),
            127 => assert!(len > 0xffff, "64-bit length for {len} bytes"),
            _ => {}
        }
        if field == 127 {
            assert!(rest[2] & 0x80 == 0, "64-bit length with the top bit set");
        }
        rest = &rest[n..];
        assert!(!closed, "a frame after our Close: {f:?}");
        assert_eq!(f.masked, from_client, "masking by role: {f:?}");
        assert!(f.rsv & 0b011 == 0, "RSV2/RSV3 set: {f:?}");
        match f.opcode {
            1 | 2 => {
                assert!(open.is_none(), "a new message inside a fragmented one");
                let compressed = f.rsv & 0b100 != 0;
                assert!(!compressed || deflate, "RSV1 without permessage-deflate");
                open = Some((f.opcode == 1, compressed, f.payload, 1));
            }
            0 => {
                assert_eq!(f.rsv, 0, "RSV bits on a continuation frame");
                let m = open
                    .as_mut()
                    .expect("a continuation frame outside a message");
                m.2.extend_from_slice(&f.payload);
                m.3 += 1;
            }
            8..=10 => {
                assert!(f.fin, "a fragmented control frame");
                assert_eq!(f.rsv, 0, "RSV bits on a control frame");
                assert!(len <= 125, "control payload {len} > 125");
                match f.opcode {
                    8 => {
                        closed = true;
                        if f.payload.is_empty() {
                            out.push(Out::Close(None, String::new()));
                        } else {
                            assert!(len >= 2, "a one-byte Close payload");
                            let code = u16::from_be_bytes([f.payload[0], f.payload[1]]);
                            assert!(
                                CloseCode::from(code).is_sendable(),
                                "Close code {code} may not be sent"
                            );
                            let reason = String::from_utf8(f.payload[2..].to_vec())
                                .expect("Close reason is UTF-8");
                            out.push(Out::Close(Some(code), reason));
                        }
                    }
                    9 => out.push(Out::Ping(f.payload)),
                    _ => out.push(Out::Pong(f.payload)),
                }
                continue;
            }
            op => panic!("opcode {op} sent"),
        }
        if f.fin {
            let (text, compressed, payload, frames) = open.take().expect("open message");
            if text && !compressed {
                assert!(
                    std::str::from_utf8(&payload).is_ok(),
                    "invalid UTF-8 in a text message sent"
                );
            }
            out.push(Out::Message {
                text,
                compressed,
                payload,
                frames,
            });
        }
    }
    out
}
