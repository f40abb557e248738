#!/usr/bin/env python3
"""Gate on an Autobahn|Testsuite report, stricter than summarize.py.

Usage: autobahn_check.py [--strict | --no-strict] [--details N] [--sections]
                         [--expect-log] REPORT_DIR AGENT

Reads REPORT_DIR/index.json (and the per-case JSON files for failing cases).

Strict mode (the default; AUTOBAHN_STRICT=0 in the environment or --no-strict
relaxes it): a case passes only when `behavior` is OK or INFORMATIONAL and
`behaviorClose` is OK or INFORMATIONAL. NON-STRICT (e.g. a server that fails
an invalid UTF-8 message only after the frame ends, 6.4.x) and a close with a
WRONG CODE fail the gate.

Relaxed mode: the same verdict as the suite's summarize.py (NON-STRICT passes,
behaviorClose WRONG CODE passes), except that UNIMPLEMENTED always fails here.

UNIMPLEMENTED always fails (permessage-deflate is part of this crate, so
12.x/13.x must run). An empty report, or a report with fewer cases than
wstest said it would run (--expect-log, read from REPORT_DIR/wstest.log),
fails too.

For every case that does not pass, prints the suite's verdict text and the
expected vs. actual events and close (from the per-case JSON), truncated.
Last line: `autobahn-check AGENT: N cases, ... -> PASS|FAIL (strict|relaxed)`.
Exit code 0 only on PASS.
"""

import json
import os
import re
import sys

GOOD = ("OK", "INFORMATIONAL")


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else 0 for p in case_id.split("."))


def short(value, limit=240):
    text = json.dumps(value, ensure_ascii=True, default=str)
    if len(text) > limit:
        text = text[:limit] + "...(%d chars)" % len(text)
    return text


def verdict(case, strict):
    """Return None when the case passes, else a short reason."""
    b = case.get("behavior", "?")
    bc = case.get("behaviorClose", "?")
    if b == "UNIMPLEMENTED":
        return "UNIMPLEMENTED"
    if strict:
        if b not in GOOD:
            return "behavior %s" % b
        if bc not in GOOD:
            return "behaviorClose %s" % bc
        return None
    if b not in GOOD + ("NON-STRICT",):
        return "behavior %s" % b
    if bc in ("FAILED", "UNCLEAN"):
        return "behaviorClose %s" % bc
    return None


def details(report_dir, entry):
    path = os.path.join(report_dir, entry.get("reportfile") or "")
    try:
        with open(path, encoding="utf-8") as f:
            c = json.load(f)
    except (OSError, ValueError) as e:
        return ["      (no per-case report: %s)" % e]
    desc = re.sub(r"\s+", " ", str(c.get("description", ""))).strip()
    exp = re.sub(r"\s+", " ", str(c.get("expectation", ""))).strip()
    lines = [
        "      description: %s" % short(desc, 200).strip('"'),
        "      expectation: %s" % short(exp, 300).strip('"'),
        "      result:      %s" % c.get("result"),
        "      resultClose: %s" % c.get("resultClose"),
        "      expected:    %s" % short(c.get("expected")),
        "      received:    %s" % short(c.get("received")),
        "      expectedClose: %s" % short(c.get("expectedClose")),
        "      actual close: remoteCloseCode=%s remoteCloseReason=%s localCloseCode=%s closedByMe=%s "
        "droppedByMe=%s failedByMe=%s wasClean=%s wasNotCleanReason=%s"
        % (c.get("remoteCloseCode"), short(c.get("remoteCloseReason"), 80), c.get("localCloseCode"),
           c.get("closedByMe"), c.get("droppedByMe"), c.get("failedByMe"), c.get("wasClean"),
           short(c.get("wasNotCleanReason"), 120)),
        "      report: %s" % path,
    ]
    return lines


def expected_count(report_dir):
    try:
        with open(os.path.join(report_dir, "wstest.log"), encoding="utf-8", errors="replace") as f:
            m = re.search(r"will run (\d+) test cases", f.read())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def main(argv):
    strict = os.environ.get("AUTOBAHN_STRICT", "1") not in ("0", "false", "no", "")
    max_details = 40
    sections = False
    expect_log = False
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--strict":
            strict = True
        elif a == "--no-strict":
            strict = False
        elif a == "--details":
            max_details = int(next(it))
        elif a == "--sections":
            sections = True
        elif a == "--expect-log":
            expect_log = True
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        else:
            args.append(a)
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    report_dir, agent = args
    mode = "strict" if strict else "relaxed"
    path = os.path.join(report_dir, "index.json")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print("autobahn-check %s: cannot read %s: %s -> FAIL (%s)" % (agent, path, e, mode))
        return 1
    cases = index.get(agent)
    if not cases:
        print("autobahn-check %s: agent not in %s (agents: %s) -> FAIL (%s)"
              % (agent, path, ", ".join(sorted(index)) or "none", mode))
        return 1

    ids = sorted(cases, key=case_key)
    counts = {}
    bad = []
    non_strict = []
    wrong_code = []
    per_section = {}
    for cid in ids:
        c = cases[cid]
        b = c.get("behavior", "?")
        bc = c.get("behaviorClose", "?")
        counts[b] = counts.get(b, 0) + 1
        if b == "NON-STRICT":
            non_strict.append(cid)
        if bc == "WRONG CODE":
            wrong_code.append(cid)
        why = verdict(c, strict)
        if why:
            bad.append((cid, why))
        sec = cid.split(".")[0]
        s = per_section.setdefault(sec, {"cases": 0, "pass": 0, "ms": 0})
        s["cases"] += 1
        s["pass"] += 0 if why else 1
        s["ms"] += c.get("duration") or 0

    print("autobahn-check: %s (agent %s, %s mode)" % (path, agent, mode))
    if sections:
        print("  section  cases  pass  summed case duration")
        for sec in sorted(per_section, key=lambda s: int(s) if s.isdigit() else 0):
            s = per_section[sec]
            print("  %-7s  %5d  %4d  %7.1f s" % (sec + ".*", s["cases"], s["pass"], s["ms"] / 1000.0))
    if non_strict:
        print("NON-STRICT cases (%d)%s: %s"
              % (len(non_strict), " - these FAIL the strict gate" if strict else " - accepted in relaxed mode",
                 " ".join(non_strict)))
    if wrong_code:
        print("behaviorClose WRONG CODE (%d)%s: %s"
              % (len(wrong_code), " - these FAIL the strict gate" if strict else " - accepted in relaxed mode",
                 " ".join(wrong_code)))
    if bad:
        print("FAILING cases (%d):" % len(bad))
        for n, (cid, why) in enumerate(bad):
            c = cases[cid]
            print("  %-8s %s (behavior=%s behaviorClose=%s remoteCloseCode=%s)"
                  % (cid, why, c.get("behavior"), c.get("behaviorClose"), c.get("remoteCloseCode")))
            if n < max_details:
                for line in details(report_dir, c):
                    print(line)
        if len(bad) > max_details:
            print("  (details shown for the first %d; see the per-case JSON for the rest)" % max_details)

    missing = False
    if expect_log:
        want = expected_count(report_dir)
        if want is not None and want != len(ids):
            print("wstest announced %d cases but the report holds %d" % (want, len(ids)))
            missing = True

    ok = not bad and not missing
    summary = ", ".join("%s %d" % (b, counts[b]) for b in
                        [x for x in ("OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED") if x in counts]
                        + sorted(set(counts) - {"OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED"}))
    print("autobahn-check %s: %d cases (%s), %d not passing -> %s (%s)"
          % (agent, len(ids), summary, len(bad), "PASS" if ok else "FAIL", mode))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
