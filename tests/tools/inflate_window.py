#!/usr/bin/env python3
"""Inflate permessage-deflate messages with zlib limited to a 2^N-byte window.

Usage: inflate_window.py N COMPRESSED EXPECTED

COMPRESSED and EXPECTED hold the same number of messages, each prefixed by its length as a
4-byte big-endian integer. COMPRESSED messages have had their trailing 00 00 ff ff stripped
(RFC 7692 7.2.1); they are inflated in order by one raw inflater (context takeover) created
with wbits=-N, restoring the trailer after each one.

zlib lets a match reach back into the output of the current inflate() call even past the
window, so output is requested one byte at a time: then every distance is checked against
the window ("invalid distance too far back"). Exit status 0 if every message inflates to the
expected bytes, 1 otherwise (with the reason on stderr).
"""
import struct
import sys
import zlib


def messages(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def inflate_bytewise(d, data):
    out = bytearray()
    buf = data
    while True:
        chunk = d.decompress(buf, 1)
        out += chunk
        buf = d.unconsumed_tail
        if not chunk and not buf:
            return bytes(out)


def main():
    bits = int(sys.argv[1])
    compressed = messages(sys.argv[2])
    expected = messages(sys.argv[3])
    if len(compressed) != len(expected):
        print("message counts differ", file=sys.stderr)
        return 1
    d = zlib.decompressobj(wbits=-bits)
    for i, (c, e) in enumerate(zip(compressed, expected)):
        try:
            got = inflate_bytewise(d, c + b"\x00\x00\xff\xff")
        except zlib.error as err:
            print(f"message {i}: zlib error with wbits={bits}: {err}", file=sys.stderr)
            return 1
        if got != e:
            print(f"message {i}: {len(got)} bytes differ from the {len(e)} expected", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
