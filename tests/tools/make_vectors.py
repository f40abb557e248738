#!/usr/bin/env python3
"""Generate the checked-in zlib test vectors under tests/data/deflate/ (run once; the files
are committed, and tests/deflate_vectors.rs decodes them with our inflater).

For every window N in 9..=15 (zlib cannot compress with 8), level in (1, 9) and context
takeover on/off, the messages of messages.bin are compressed as a permessage-deflate peer
would: raw deflate with wbits=-N, Z_SYNC_FLUSH after each message, trailing 00 00 ff ff
stripped. With takeover off a fresh compressor is used for each message.

File format (both files): messages, each prefixed by a 4-byte big-endian length.
"""
import os
import random
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "deflate")


def frame(msgs):
    return b"".join(struct.pack(">I", len(m)) + m for m in msgs)


def corpus():
    rng = random.Random(7692)
    json = b"".join(
        b'{"id":%d,"name":"user%d","active":%s,"tags":["a%d","b%d"]},'
        % (i, rng.randrange(1000), b"true" if rng.random() < 0.5 else b"false", i % 7, i % 11)
        for i in range(400)
    )
    noise = bytes(rng.randrange(256) for _ in range(3000))
    return [
        b"Hello",
        b"Hello",
        b"",
        json[:2000],
        json,  # repeats the previous message from far back
        noise + json[:500] + noise,  # a repeat 3.5 KB back
        bytes(range(256)) * 40,  # period 256
        b"a" * 70000,  # long runs
        json[5000:9000],
        "ünïcødé text ✓ ".encode() * 50,
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    msgs = corpus()
    with open(os.path.join(OUT, "messages.bin"), "wb") as f:
        f.write(frame(msgs))
    for bits in range(9, 16):
        for level in (1, 9):
            for takeover in (True, False):
                out = []
                c = zlib.compressobj(level, zlib.DEFLATED, -bits)
                for m in msgs:
                    if not takeover:
                        c = zlib.compressobj(level, zlib.DEFLATED, -bits)
                    z = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
                    assert z.endswith(b"\x00\x00\xff\xff")
                    out.append(z[:-4])
                name = "w%d_l%d_%s.bin" % (bits, level, "ctx" if takeover else "noctx")
                with open(os.path.join(OUT, name), "wb") as f:
                    f.write(frame(out))


if __name__ == "__main__":
    main()
