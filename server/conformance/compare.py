#!/usr/bin/env python3
"""Compares an Autobahn fuzzingclient report (index.json) with the expected outcome.

Prints the counts by behaviour and every case whose outcome differs; exits 1 if any
does. With --update, writes the report's outcome as the new expected results instead.
Only the verdicts are compared (`behavior`, `behaviorClose`), not timings.
"""

import collections
import json
import sys


def outcome(report):
    (agent,) = report.values()
    return {
        case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]}
        for case, r in agent.items()
    }


def failed_by_close_code(report):
    """Failed cases by the endpoint's close code (None: it dropped the connection)."""
    (agent,) = report.values()
    return collections.Counter(
        r.get("remoteCloseCode") for r in agent.values() if r["behavior"] == "FAILED"
    )


def case_key(case):
    return [int(p) for p in case.split(".")]


def main():
    report_path, expected_path = sys.argv[1], sys.argv[2]
    update = "--update" in sys.argv[3:]
    with open(report_path) as f:
        report = json.load(f)
    got = outcome(report)
    counts = collections.Counter(r["behavior"] for r in got.values())
    print(f"{len(got)} cases: " + ", ".join(f"{n} {b}" for b, n in sorted(counts.items())))
    for code, n in sorted(failed_by_close_code(report).items(), key=str):
        why = {
            1009: "closed with 1009, a message over the 1 KiB client limit (by design)",
            None: "connection dropped while the fuzzer was still sending an over-limit message",
        }.get(code, f"closed with {code}")
        print(f"  FAILED, {why}: {n}")
    if update:
        ordered = {c: got[c] for c in sorted(got, key=case_key)}
        with open(expected_path, "w") as f:
            json.dump(ordered, f, indent=2)
            f.write("\n")
        print(f"wrote {expected_path}")
        return 0
    with open(expected_path) as f:
        expected = json.load(f)
    differences = [
        (c, expected.get(c), got.get(c))
        for c in sorted(set(got) | set(expected), key=case_key)
        if expected.get(c) != got.get(c)
    ]
    for case, want, have in differences:
        print(f"  {case}: expected {want}, got {have}")
    if differences:
        print(f"{len(differences)} cases differ from {expected_path}")
        return 1
    print("as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
