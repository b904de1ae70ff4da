#!/usr/bin/env python3
"""Turns the bench's result files (bench/run) into the BENCHMARKS.md tables.

Every throughput is shown as a ratio to a floor measured in the same run on
the same machine, Redis server and wrk settings: bare axum for the request
that does no I/O, bare axum plus one Redis GET for the ones that need the
stores. Targets are printed next to each row as met or missed.
"""
import json
import os
import re
import sys

results_dir = sys.argv[1]


def path(key):
    return os.path.join(results_dir, key)


def parse_wrk(key):
    text = open(path(f"{key}.txt")).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", text)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": rps,
        "p50": pct(50),
        "p99": pct(99),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0,
    }


def have(key):
    return os.path.exists(path(f"{key}.txt"))


def verdict(ok):
    return "met" if ok else "**missed**"


def errors(r):
    return r["non2xx"] + r["socket_errors"]


floor_bare, floor_redis = parse_wrk("floor_bare"), parse_wrk("floor_redis")
FLOORS = {"bare": ("bare axum", floor_bare), "redis": ("bare axum + Redis GET", floor_redis)}

# (label, result file, floor, least ratio to the floor, most p99 in ms)
ROWS = [
    ("bare axum, no I/O (floor)", "floor_bare", "bare", None, None),
    ("bare axum + one Redis GET (floor)", "floor_redis", "redis", None, None),
    ("GET /api/health", "health", "bare", 0.8, None),
    ("GET /api/auth/me (session cookie)", "me_session", "redis", 0.75, 5.0),
    ("GET /api/auth/me (API token)", "me_token", "redis", 0.8, 5.0),
    ("POST /api/authorize (VPS via group)", "authorize", "redis", 0.6, None),
    ("GET /api/tasks/pending-approval/count", "count", "redis", 0.6, None),
]


def target_text(least, most_p99):
    parts = []
    if least is not None:
        parts.append(f"≥ {least:.2f}")
    if most_p99 is not None:
        parts.append(f"p99 ≤ {most_p99:g} ms")
    return ", ".join(parts)


def row_verdict(r, floor, least, most_p99):
    if least is None:
        return "floor"
    ok = r["rps"] / floor["rps"] >= least and errors(r) == 0
    if most_p99 is not None:
        ok = ok and r["p99"] <= most_p99
    return verdict(ok)


print("| request | req/s | p50 ms | p99 ms | × floor | floor | target | | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for label, key, floor_key, least, most_p99 in ROWS:
    r = parse_wrk(key)
    floor_name, floor = FLOORS[floor_key]
    print(
        f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps'] / floor['rps']:.2f} "
        f"| {floor_name} | {target_text(least, most_p99)} | {row_verdict(r, floor, least, most_p99)} | {errors(r)} |"
    )
health = parse_wrk("health")
ratio = health["rps"] / floor_bare["rps"]
print()
print(f"health ÷ bare axum: {ratio:.2f} (target ≥ 0.80: {verdict(ratio >= 0.8)})")
print(
    f"bare axum + one Redis GET ÷ bare axum: {floor_redis['rps'] / floor_bare['rps']:.2f} "
    "(what one Redis round trip costs on this machine)"
)

print()
print("| login isolation (4 clients each) | req/s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|")
for label, key in [
    ("POST /api/auth/login (argon2id 19 MiB, t=2)", "login"),
    ("GET /api/health while the logins run", "health_under_login"),
    ("GET /api/health idle (reference)", "health_idle4"),
]:
    r = parse_wrk(key)
    print(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {errors(r)} |")
idle, busy = parse_wrk("health_idle4"), parse_wrk("health_under_login")
print()
print(f"Health p99 under login load vs idle: {busy['p99']:.2f} ms vs {idle['p99']:.2f} ms = {busy['p99'] / idle['p99']:.1f}x")

if os.path.exists(path("scale.json")) and have("scale_me_session"):
    seed = json.load(open(path("scale.json")))
    print()
    print(
        f"Scale: {seed['users']:,} users, {seed['sessions']:,} live sessions, {seed['tokens']:,} tokens "
        f"(bench/src/scale.rs, in {seed['total_secs']:.0f} s: users {seed['users_secs']:.0f} s, their cached "
        f"state {seed['user_cache_secs']:.0f} s, then tokens {seed['tokens_secs']:.0f} s and sessions "
        f"{seed['sessions_secs']:.0f} s at once)"
    )
    if os.path.exists(path("scale_check.json")):
        check = json.load(open(path("scale_check.json")))
        pages = ", ".join(f"{ms:.0f}" for ms in check["users_page_ms"])
        print(
            f"Checked after seeding: {check['logins']} seeded users logged in, {check['sessions']:,} sessions and "
            f"{check['tokens']} tokens answered /api/auth/me; GET /api/auth/users?limit=100, five pages by cursor: "
            f"{pages} ms; unpaged: {check['users_unpaged']['rows']:,} rows in {check['users_unpaged']['ms']:.0f} ms"
        )
    print()
    print("| request | small req/s | scale req/s | scale ÷ small | small p99 | scale p99 | × floor at scale | within 10% | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, small_key, key in [
        ("GET /api/auth/me, the seed's session", "me_session", "scale_me_session"),
        (f"GET /api/auth/me, {seed['sample']:,} sessions of as many users at random", "me_session", "scale_me_session_many"),
        ("POST /api/authorize (VPS via group)", "authorize", "scale_authorize"),
    ]:
        small, r = parse_wrk(small_key), parse_wrk(key)
        ratio = r["rps"] / small["rps"]
        print(
            f"| {label} | {small['rps']:.0f} | {r['rps']:.0f} | {ratio:.2f} | {small['p99']:.2f} | {r['p99']:.2f} "
            f"| {r['rps'] / floor_redis['rps']:.2f} | {verdict(ratio >= 0.9 and errors(r) == 0)} | {errors(r)} |"
        )

if have("cluster_me_session"):
    print()
    print("Redis Cluster (3 masters on loopback, REDIS_CLUSTER=true); × floor is against the single-node floor:")
    print()
    print("| request | req/s | p50 ms | p99 ms | × floor | ÷ single node | errors |")
    print("|---|---|---|---|---|---|---|")
    for label, single_key, key in [
        ("GET /api/auth/me (session cookie)", "me_session", "cluster_me_session"),
        ("GET /api/auth/me (API token)", "me_token", "cluster_me_token"),
        ("POST /api/authorize (VPS via group)", "authorize", "cluster_authorize"),
    ]:
        single, r = parse_wrk(single_key), parse_wrk(key)
        print(
            f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps'] / floor_redis['rps']:.2f} "
            f"| {r['rps'] / single['rps']:.2f} | {errors(r)} |"
        )
elif os.path.exists(path("cluster_skipped.txt")):
    print()
    print("Redis Cluster scenario: skipped.")
    print("```")
    print(open(path("cluster_skipped.txt")).read().rstrip())
    print("```")

lam = json.load(open(path("lambda.json")))
cold = lam["cold"]
print()
print(f"| Lambda cold start, process start to first answer (median of {lam['cold_runs']}) | krv-auth | lambda-floor | ratio | target ≤ 2× |")
print("|---|---|---|---|---|")
for label, req in [
    ("GET /api/auth/me, session cookie (one Redis round trip)", "/me"),
    ("GET /api/auth/status (no I/O)", "/status"),
]:
    ours, floor = cold[f"krv-auth {req}"]["median_ms"], cold[f"lambda-floor {req}"]["median_ms"]
    print(f"| {label} | {ours:.1f} ms | {floor:.1f} ms | {ours / floor:.2f} | {verdict(ours <= 2 * floor)} |")
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
sizes = lam["binary_sizes"]
if sizes.get("lambda-floor"):
    print()
    print(f"krv-auth ÷ lambda-floor size: {sizes['krv-auth'] / sizes['lambda-floor']:.1f}x")
