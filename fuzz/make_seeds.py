#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/seed-*): a handful of meaningful
inputs per target, in each target's input format (see the target's doc comment). Run from the
repository root: python3 fuzz/make_seeds.py"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def frame(fin, opcode, payload, mask=None, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask is None:
        return h + payload
    return h + bytes(mask) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def deflate(data, wbits=15):
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


def stream(mask, rsv_msgs=False):
    """A conversation from the peer: text, a text split inside a character, binary, ping, close."""
    k = mask
    euro = "x€y".encode()
    out = frame(True, 1, b"Hello", k)
    out += frame(False, 1, euro[:2], k) + frame(True, 0, euro[2:], k)
    out += frame(True, 9, b"ping!", k) + frame(True, 2, bytes(range(200)), k)
    out += frame(False, 2, b"ab", k) + frame(True, 9, b"", k) + frame(True, 0, b"cd", k)
    out += frame(True, 10, b"pong", k)
    return out


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


MASK = [0x37, 0xFA, 0x21, 0x3D]

for target, mask in [("connection_server", MASK), ("connection_client", None)]:
    write(target, "conversation", bytes([0x04]) + stream(mask) + frame(True, 8, close(1000, b"bye"), mask))
    write(target, "streaming-chunked", bytes([0x1D]) + stream(mask))
    write(target, "recv-buf", bytes([0x80 | 0x0C]) + stream(mask) + frame(True, 8, close(1001), mask))
    write(target, "bad-utf8", bytes([0x05]) + frame(True, 1, b"ok\xed\xa0\x80", mask) + frame(True, 8, close(1000), mask))
    write(target, "bad-utf8-fragmented", bytes([0x01]) + frame(False, 1, b"\xf0\x9f", mask) + frame(True, 0, b"\x98", mask))
    write(target, "pings", bytes([0x00]) + b"".join(frame(True, 9, bytes([i]) * i, mask) for i in range(8)))
    write(target, "bad-close", bytes([0x00]) + frame(True, 8, close(1005), mask))

# connection_deflate: [opts, a, b] + frames; b & 0x20: client role (unmasked input).
hello = deflate(b"Hello")
for name, a, b in [("takeover", 0x60, 0x00), ("no-takeover-9bit", 0x07, 0xC9), ("client-8bit", 0x3C, 0x20)]:
    mask = None if b & 0x20 else MASK
    msgs = frame(True, 1, hello, mask, rsv=4) + frame(True, 1, hello, mask, rsv=4)
    z = deflate("ä€😀 streamed ".encode() * 20)
    msgs += frame(False, 1, z[:7], mask, rsv=4) + frame(True, 9, b"p", mask) + frame(True, 0, z[7:], mask)
    msgs += frame(True, 2, b"plain", mask) + frame(True, 2, deflate(bytes(3000)), mask, rsv=4)
    write("connection_deflate", name, bytes([0x08, a, b]) + msgs + frame(True, 8, close(1000), mask))
write("connection_deflate", "bomb", bytes([0x00, 0x00, 0x00]) + frame(True, 2, deflate(bytes(1 << 20)), MASK, rsv=4))
write("connection_deflate", "bad-utf8", bytes([0x01, 0x00, 0x00]) + frame(True, 1, deflate(b"ok\xff"), MASK, rsv=4))

# inflate: control byte + messages separated by ff 00 ff.
write("inflate", "hello", bytes([0x40]) + hello)
write("inflate", "two", bytes([0xFF]) + hello + b"\xff\x00\xff" + deflate(b"HelloHelloHello"))
write("inflate", "window-9", bytes([0x21]) + bytes(range(256)) * 4 + b"\xff\x00\xff" + b"abc" * 300)

# roundtrip: [opts, a, b] + (op, arg) pairs: op&3 0 whole, 1 fragments, 2 deliver, 3 ping;
# op&0x80 server sends, &0x40 text, &0x20 no compression, &0x10 x16 length.
ops = bytes([0x40, 20]) + b"seedtext!" * 3
ops += bytes([0x55, 200]) + bytes(range(40)) + bytes([3, 5, 9])
ops += bytes([0x02, 7, 0x83, 10, 0xC0, 50]) + b"\x01\x07\x0e" * 10 + bytes([0x30, 255]) + bytes(range(31))
ops += bytes([0x02, 0])
write("roundtrip", "plain", bytes([0x00, 0, 0]) + ops)
write("roundtrip", "deflate-takeover", bytes([0x01, 0x60, 0x00]) + ops)
write("roundtrip", "deflate-8bit-no-takeover", bytes([0x07, 0x07, 0xC0]) + ops)
write("roundtrip", "deflate-fragment-size", bytes([0x09, 0x3C, 0x20]) + ops)

# send_path: [opts, a, b] + (op, arg) pairs; see the target for the op table.
ops = bytes([0x00, 10, 0x01, 200, 0x02, 9, 0x42, 17, 0x03, 5, 0x04, 4, 0x08, 255, 0x0A, 3, 0x09, 255, 0x0D, 0])
ops += bytes([0x08, 2, 0x07, 60, 0x08, 255, 0x0B, 5, 0x09, 255, 0x0D, 0, 0x05, 0x10, 0x08, 255, 0x09, 255, 0x0D, 0])
write("send_path", "server", bytes([0x00, 0, 0]) + ops)
write("send_path", "client-deflate", bytes([0x11, 0x60, 0x10]) + ops)
write("send_path", "timers", bytes([0x06, 0, 0]) + bytes([0x07, 255] * 4 + [0x09, 255, 0x0D, 0] + [0x07, 255] * 8))
write("send_path", "full-queue", bytes([0x00, 0, 0]) + bytes([0x41, 255] * 10 + [0x0A, 9] * 6 + [0x09, 255, 0x0D, 0, 0x06, 0x35]))
write("send_path", "invalid-close", bytes([0x10, 0, 0]) + bytes([0x05, 5, 0x05, 0xF6, 0x05, 15, 0x05, 0]))

# handshake_negotiation: see the target.
write("handshake_negotiation", "offers", bytes([0x00, 0x60, 0x00, 0x07, 0xC9, 0x3C, 0x20, 0x07, 0x35]))
write("handshake_negotiation", "offers-no-takeover", bytes([0x00, 0x07, 0xC9, 0x0B, 0x40, 0x00, 0x00, 0x04, 0x11]))
write("handshake_negotiation", "offers-8bit", bytes([0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF]))
write("handshake_negotiation", "raw-offer", bytes([0x02, 0x07]) + b"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate")
write("handshake_negotiation", "handover-server", bytes([0x01, 7, 13]) + stream(MASK) + frame(True, 8, close(1000), MASK))
write("handshake_negotiation", "handover-client", bytes([0x03, 5, 200]) + stream(None) + frame(True, 8, close(1000)))
