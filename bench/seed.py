#!/usr/bin/env python3
"""Seeds a fresh service for the benchmarks and prints the credentials as JSON.

Creates the first admin, an operator, a user in a group, a session and an API
token for the user, and a VPS assigned to the group.
"""
import http.client
import json
import sys

HOST, PORT, SECRET = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PASSWORD = "Bench-Passphrase-2026"


def call(method, path, body=None, auth=None, cookie=None):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {auth}"
    if cookie:
        headers["cookie"] = f"kohakuriver_session={cookie}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data!r}")
    session = None
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("kohakuriver_session="):
            session = value.split(";")[0].split("=", 1)[1] or None
    return (json.loads(data) if data else None), session


_, admin = call("POST", "/api/auth/register", {"username": "admin", "password": PASSWORD, "register_secret": SECRET})
for name, role in [("oper", "operator"), ("member", "user")]:
    call("POST", "/api/auth/register", {"username": name, "password": PASSWORD, "role": role}, auth=admin)
_, operator = call("POST", "/api/auth/login", {"username": "oper", "password": PASSWORD})
body, member = call("POST", "/api/auth/login", {"username": "member", "password": PASSWORD})
member_id = body["user"]["id"]
token, _ = call("POST", "/api/auth/tokens", {"name": "bench"}, auth=member)
group, _ = call("POST", "/api/auth/groups", {"name": "bench-group"}, auth=admin)
call("PUT", f"/api/auth/groups/{group['id']}/members/{member_id}", auth=admin)
vps, _ = call("POST", "/api/tasks", {"task_type": "vps", "command": "ssh-ed25519 AAAA"}, auth=operator)
vps_id = vps["task_ids"][0]
call("POST", f"/api/vps/{vps_id}/assign", {"group_ids": [group["id"]]}, auth=operator)
print(json.dumps({
    "session": member,
    "token": token["token"],
    "operator": operator,
    "vps": vps_id,
    "password": PASSWORD,
}))
