#!/usr/bin/env python3
"""Turns the bench's result files into the BENCHMARKS.md table."""
import json
import re
import sys


def parse_wrk(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", text)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(errors.group(1)) if errors else 0}


results_dir = sys.argv[1]
rows = [
    ("1", "GET /api/health (no I/O)", "health"),
    ("2", "GET /api/auth/me, session cookie", "me_session"),
    ("3", "GET /api/auth/me, API token", "me_token"),
    ("4", "POST /api/authorize, VPS via group", "authorize"),
    ("5", "GET /api/tasks/pending-approval/count, operator", "count"),
    ("6a", "POST /api/auth/login, 4 clients (argon2id 19 MiB, t=2)", "login"),
    ("6b", "GET /api/health while 6a runs, 4 clients", "health_under_login"),
    ("6c", "GET /api/health idle, 4 clients (reference for 6b)", "health_idle4"),
]
base = parse_wrk(f"{results_dir}/health.txt")
print("| # | scenario | req/s | ratio to 1 | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|---|---|")
for num, name, key in rows:
    r = parse_wrk(f"{results_dir}/{key}.txt")
    print(f"| {num} | {name} | {r['rps']:.0f} | {r['rps'] / base['rps']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} |")
idle, busy = parse_wrk(f"{results_dir}/health_idle4.txt"), parse_wrk(f"{results_dir}/health_under_login.txt")
print()
print(f"Health p99 under login load vs idle (4 clients each): {busy['p99']:.2f} ms vs {idle['p99']:.2f} ms = {busy['p99'] / idle['p99']:.1f}x")
lam = json.load(open(f"{results_dir}/lambda.json"))
print()
print("| Lambda (krv-health, local Runtime API emulator) | value |")
print("|---|---|")
print(f"| cold start: process start to first answered invocation | {lam['cold_start_ms']:.1f} ms |")
print(f"| warm invocation p50 / p99 ({lam['warm_invocations']} invocations, /api/health/ready) | {lam['warm_p50_ms']:.2f} / {lam['warm_p99_ms']:.2f} ms |")
print()
print("| release Lambda binary | size |")
print("|---|---|")
for name, size in sorted(lam["binary_sizes"].items()):
    print(f"| {name} | {size / 1048576:.1f} MiB |")
