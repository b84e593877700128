"""Turns compare.sh's JSON lines into markdown: both servers and the ratio, then cometgate's
publish latency under subscriber load without and with --internal-bind."""
import json
import sys

FIGURES = [
    ("idle_bytes_per_subscriber", "memory per idle subscriber (bytes)", "lower"),
    ("p50_ms", "latency p50 (ms)", "lower"),
    ("p99_ms", "latency p99 (ms)", "lower"),
    ("max_ms", "latency max (ms)", "lower"),
    ("cpu_us_per_delivery", "server CPU per delivery (µs)", "lower"),
    ("publish_p50_ms", "publish request p50 (ms)", "lower"),
    ("deliveries_per_s", "deliveries per second", "higher"),
    ("connects_per_s", "new connections per second", "higher"),
    ("lost", "events lost", "lower"),
    ("duplicated", "events duplicated", "lower"),
]

runs = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    runs.setdefault(row["scenario"], {})[row["server"]] = row["result"]

print("| scenario | figure | cometgate | Nchan | cometgate / Nchan |")
print("| --- | --- | --- | --- | --- |")
for scenario, servers in runs.items():
    ours, theirs = servers.get("cometgate", {}), servers.get("nchan", {})
    idle = "idle" in scenario
    for key, label, _ in FIGURES:
        if idle and key not in ("idle_bytes_per_subscriber", "connects_per_s"):
            continue
        if not idle and key == "idle_bytes_per_subscriber":
            continue
        a, b = ours.get(key), theirs.get(key)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"
        print(f"| {scenario} | {label} | {a} | {b} | {ratio} |")

internal = [(scenario, servers) for scenario, servers in runs.items() if "cometgate-internal" in servers]
if internal:
    print()
    print("| subscriber load | publish p50 (ms), one listener | with --internal-bind | ratio |")
    print("| --- | --- | --- | --- |")
    for scenario, servers in internal:
        a = servers.get("cometgate", {}).get("publish_p50_ms")
        b = servers["cometgate-internal"].get("publish_p50_ms")
        ratio = f"{b / a:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else "-"
        print(f"| {scenario} | {a} | {b} | {ratio} |")
