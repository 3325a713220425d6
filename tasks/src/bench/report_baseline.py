"""Baseline for `cargo xtask bench report`: the report's figures computed the plain way,
with json and tarfile, deliberately unoptimised (it is what the Rust report is measured
against). Prints JSON: the figures of every (profile, method) pair and this process's
peak memory.

Usage: python3 report_baseline.py PD_TAR_GZ
"""

import json
import math
import sys
import tarfile


def nearest_rank(sorted_values, percent):
    rank = max(1, math.ceil(percent * len(sorted_values) / 100))
    return sorted_values[rank - 1]


def median(sorted_values):
    n = len(sorted_values)
    if n % 2 == 1:
        return float(sorted_values[n // 2])
    return (sorted_values[n // 2 - 1] + sorted_values[n // 2]) / 2


def peak_memory_kib():
    # VmHWM, not getrusage: this process's own high-water mark, whoever spawned it.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(path):
    timings = {}
    slowest = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            if "profile-details/" not in member.name:
                continue
            profile = json.load(archive.extractfile(member))["profileResult"]
            for requirement in profile.get("requirementResults") or []:
                for evidence in requirement.get("positiveTestEvidence") or []:
                    if evidence.get("testEvidenceType") != "SUCCESSFUL_ASSERTION":
                        continue
                    if "elapsedTime" not in evidence:
                        continue
                    key = (profile["name"], evidence["methodName"])
                    elapsed = evidence["elapsedTime"]
                    timings.setdefault(key, []).append(elapsed)
                    if key not in slowest or elapsed > slowest[key][0]:
                        slowest[key] = (elapsed, evidence["assertionId"])

    pairs = []
    for (profile, method), values in sorted(timings.items()):
        values.sort()
        pairs.append(
            {
                "profile": profile,
                "method": method,
                "count": len(values),
                "median": median(values),
                "p90": nearest_rank(values, 90),
                "p99": nearest_rank(values, 99),
                "max": values[-1],
                "slowest_assertion": slowest[(profile, method)][1],
            }
        )
    json.dump({"pairs": pairs, "peak_rss_kib": peak_memory_kib()}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
