#!/usr/bin/env bash
# Instructions per message for the small cases (issue 11), exact and repeatable on a noisy
# machine: each library runs N messages of one case under `valgrind --tool=callgrind`, and
# again with 0 messages (same input, same setup, one warm-up batch in both), and
#   instructions per message = (Ir(N) - Ir(0)) / N.
#
#   bash benches/callgrind.sh [N]            # default N = 16384
#   SIZES="16 1024" CASES="receive-binary" LIBS="wsproto limit" bash benches/callgrind.sh
#
# Prints one markdown table per case. Uses $CARGO_TARGET_DIR if set. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-16384}
SIZES=${SIZES:-"16 125 1024"}
CASES=${CASES:-"receive-binary receive-text-ascii receive-text-utf8 send-binary"}
LIBS=${LIBS:-"wsproto tungstenite fastwebsockets limit memcpy"}

# glibc's memcpy/memset use `rep movsb`/`rep stosb` for larger sizes (ERMS), which callgrind
# counts as one instruction per byte: a 64 KiB socket-read copy would weigh 65,536. Without
# ERMS they run glibc's vector loops, counted as what they execute.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.cpu.hwcaps=-ERMS}

command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }

bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
[ -x "$bin" ] || { echo "could not build benches/instructions.rs" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one run (callgrind's "summary:" line).
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$@" >"$tmp/stdout" 2>"$tmp/stderr" ||
        { cat "$tmp/stderr" >&2; exit 1; }
    awk '/^summary:/ {print $2}' "$tmp/out"
}

echo "instructions per message (callgrind, (Ir(N) - Ir(0)) / N, N = $N rounded up to whole batches)"
echo "valgrind: $(valgrind --version); rustc: $(rustc --version); GLIBC_TUNABLES=$GLIBC_TUNABLES"
for case in $CASES; do
    echo
    echo "### $case"
    echo
    header="| lib |"
    rule="| --- |"
    for size in $SIZES; do header="$header $size B |"; rule="$rule ---: |"; done
    echo "$header"
    echo "$rule"
    for lib in $LIBS; do
        row="| $lib |"
        for size in $SIZES; do
            full=$(ir "$lib" "$case" "$size" "$N")
            n=$(sed -n 's/.* n=\([0-9]*\) .*/\1/p' "$tmp/stdout")
            zero=$(ir "$lib" "$case" "$size" 0)
            row="$row $(python3 -c "print(f'{($full - $zero) / $n:.0f}')") |"
        done
        echo "$row"
    done
done
