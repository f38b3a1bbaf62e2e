"""The local stack for a test: started as ``make dev`` runs it (``devstack.stack_process``) but apart from the
test process's settings, and looked at from outside: its child processes, its ports, HTTP requests to it."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.stack_process import StackProcess


def stack_process(state_dir: Path, template: Path | None = None, *args: str) -> StackProcess:
    """A stack with its own key folder, and none of the tests' Stripe keys or AWS endpoints in its environment
    (``args``: more ``serve`` options)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "AWS_ENDPOINT_URL"))}
    return StackProcess(state_dir, template, env=env, extra_args=args)


def descendants_of(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def request(method: str, url: str, *, token: str | None = None, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body or text, lower-case headers)."""
    all_headers = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("content-type", "application/json")
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 (http URLs)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, error.headers
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, {k.lower(): v for k, v in got.items()}
