#!/usr/bin/env python3
"""Markdown tables from the criterion results of benches/compare.rs (issue 11).

Reads <target>/criterion/**/new/{benchmark,estimates}.json, where <target> is
$CARGO_TARGET_DIR or ./target, for the ids `<direction>/<case>/<size>/<lib>`, and prints per
case: each library's time per message and throughput, its ratio to the limit (`limit`: one
copy + word-wide XOR, + simdutf8 for text; raw miniz_oxide for deflate), and wsproto against
the best peer (below 1.00: wsproto is faster).

    python3 benches/report.py [--estimate mean|median] [TARGET_DIR]
"""

import json
import os
import sys
from collections import defaultdict

LIBS = ["wsproto", "tungstenite", "fastwebsockets", "limit", "memcpy"]
PEERS = ["tungstenite", "fastwebsockets"]
DIRECTIONS = ["receive", "send", "deflate-receive", "deflate-send"]


def load(root, estimate):
    """{(direction, case): {size: {lib: (ns_per_iter, bytes_per_iter)}}}"""
    out = defaultdict(lambda: defaultdict(dict))
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        parts = bench.get("group_id", "").split("/")
        if len(parts) != 3 or parts[0] not in DIRECTIONS:
            continue
        direction, case, size = parts
        lib = bench.get("function_id")
        throughput = bench.get("throughput") or {}
        nbytes = throughput.get("Bytes") or throughput.get("BytesDecimal")
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        ns = est[estimate]["point_estimate"]
        out[(direction, case)][int(size)][lib] = (ns, nbytes)
    return out


def fmt_time(ns):
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def fmt_rate(bytes_per_s):
    gib = bytes_per_s / (1 << 30)
    if gib >= 1:
        return f"{gib:.2f} GiB/s"
    return f"{bytes_per_s / (1 << 20):.0f} MiB/s"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def size_name(size):
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


def table(direction, case, rows):
    libs = [lib for lib in LIBS if any(lib in r for r in rows.values())]
    peers = [p for p in PEERS if p in libs]
    print(f"### {direction} {case}\n")
    head = ["size"] + libs
    head += [f"{lib} ÷ limit" for lib in libs if lib not in ("limit", "memcpy")] if "limit" in libs else []
    if peers and "wsproto" in libs:
        head.append("wsproto ÷ best peer")
    print("| " + " | ".join(head) + " |")
    print("| --- " * len(head) + "|")
    for size in sorted(rows):
        r = rows[size]
        cells = [size_name(size)]
        for lib in libs:
            if lib not in r:
                cells.append("–")
                continue
            ns, nbytes = r[lib]
            # One message of `size` bytes (fragmented: one message per iteration).
            msgs = max(1, (nbytes or size) // size)
            rate = fmt_rate(nbytes / (ns / 1e9)) if nbytes else ""
            cells.append(f"{fmt_time(ns / msgs)} ({rate})")
        if "limit" in libs:
            limit = r.get("limit", (None,))[0]
            for lib in libs:
                if lib in ("limit", "memcpy"):
                    continue
                cells.append(ratio(r.get(lib, (None,))[0], limit))
        if peers and "wsproto" in libs:
            best = min((r[p][0] for p in peers if p in r), default=None)
            cells.append(ratio(r.get("wsproto", (None,))[0], best))
        print("| " + " | ".join(cells) + " |")
    print()


def main(argv):
    estimate = "mean"
    args = list(argv)
    if "--estimate" in args:
        i = args.index("--estimate")
        estimate = args[i + 1]
        del args[i : i + 2]
    target = args[0] if args else os.environ.get("CARGO_TARGET_DIR", "target")
    root = os.path.join(target, "criterion")
    data = load(root, estimate)
    if not data:
        sys.exit(f"no compare results under {root}: run `cargo bench --bench compare` first")
    print(f"Time per message (throughput of payload); {estimate} of criterion's estimates.\n")
    order = {d: i for i, d in enumerate(DIRECTIONS)}
    for direction, case in sorted(data, key=lambda k: (order[k[0]], k[1])):
        table(direction, case, data[(direction, case)])


if __name__ == "__main__":
    main(sys.argv[1:])
