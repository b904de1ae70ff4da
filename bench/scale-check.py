#!/usr/bin/env python3
"""Checks a served instance after scale-seed, and prints what it found as JSON.

Usage: scale-check.py HOST PORT WORK_DIR SCALE_JSON OPERATOR_BEARER

Sampled seeded users log in with the seeder's password; every sampled session
(WORK_DIR/sessions.txt) answers /api/auth/me, which also takes each user's
once-a-minute last_seen stamp before the timed run, as steady traffic would
have; sampled tokens (WORK_DIR/tokens.txt) answer /api/auth/me; the users list
pages (100 a page, by cursor) and the unpaged list (capped) answer quickly; the
statistics count the seeded users and sessions. Fails on any wrong answer.
"""
import http.client
import json
import sys
import time

HOST, PORT, WORK, SCALE_JSON, OPERATOR = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
seed = json.load(open(SCALE_JSON))
conn = http.client.HTTPConnection(HOST, PORT, timeout=60)


def call(method, path, headers=None, body=None):
    headers = dict(headers or {})
    if body is not None:
        headers["content-type"] = "application/json"
        body = json.dumps(body)
    started = time.monotonic()
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    data = response.read()
    took_ms = (time.monotonic() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"scale check: {method} {path} answered {response.status}: {data[:200]!r}")
    return json.loads(data), response, took_ms


def lines(name):
    return [line.strip() for line in open(f"{WORK}/{name}") if line.strip()]


found = {}
low, high = seed["user_ids"]
usernames = lines("users.txt")
for name in usernames[:: max(1, len(usernames) // 5)][:5]:
    body, _, _ = call("POST", "/api/auth/login", body={"username": name, "password": seed["password"]})
    if body["user"]["username"] != name:
        raise SystemExit(f"scale check: login as {name} answered as {body['user']['username']}")
found["logins"] = min(5, len(usernames))

sessions = lines("sessions.txt")
for cookie in sessions:
    body, _, _ = call("GET", "/api/auth/me", {"cookie": cookie})
    if not low <= body["id"] <= high:
        raise SystemExit(f"scale check: a seeded session is user {body['id']}")
found["sessions"] = len(sessions)

tokens = lines("tokens.txt")
for value in tokens[:100]:
    body, _, _ = call("GET", "/api/auth/me", {"authorization": value})
    if body["auth_method"] != "api_token" or not low <= body["id"] <= high:
        raise SystemExit(f"scale check: a seeded token answered {body}")
found["tokens"] = min(100, len(tokens))

operator = {"authorization": f"Bearer {OPERATOR}"}
page_ms, path, seen = [], "/api/auth/users?limit=100", set()
for _ in range(5):
    body, response, took = call("GET", path, operator)
    page_ms.append(round(took, 1))
    if len(body) != 100 or seen & {u["id"] for u in body}:
        raise SystemExit(f"scale check: a users page of {len(body)}, or overlapping the last")
    seen |= {u["id"] for u in body}
    path = f"/api/auth/users?limit=100&cursor={response.getheader('x-next-cursor')}"
found["users_page_ms"] = page_ms
body, response, took = call("GET", "/api/auth/users", operator)
found["users_unpaged"] = {"rows": len(body), "ms": round(took, 1), "more": response.getheader("x-next-cursor") is not None}

stats, _, _ = call("GET", "/api/admin/stats", operator)
if stats["users"]["by_role"]["user"] < seed["users"] or stats["active_sessions"] < seed["sessions"]:
    raise SystemExit(f"scale check: the statistics do not count the seed: {stats}")
found["stats"] = {"users": stats["users"]["total"], "active_sessions": stats["active_sessions"]}
print(json.dumps(found))
