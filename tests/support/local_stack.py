"""The local stack as a process, the way ``make dev`` runs it, for tests: start, read its ready line, stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devstack.local_stack import READY_PREFIX
from devstack.template import REPO_ROOT


class StackProcess:
    """``python -m devstack.local_stack serve`` on free ports; ``config`` is its ready line's JSON."""

    def __init__(self, state_dir: Path, template: Path | None = None, startup_timeout: float = 60):
        self.command = [sys.executable, "-m", "devstack.local_stack", "serve", "--api-port", "0",
                        "--dynamodb-port", "0", "--stripe-port", "0", "--state-dir", str(state_dir)]
        if template is not None:
            self.command += ["--template", str(template)]
        self.startup_timeout = startup_timeout
        self.config: dict[str, Any] = {}
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> StackProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "AWS_ENDPOINT_URL"))}
        self.process = subprocess.Popen(self.command,  # noqa: S603 (our own CLI)
                                        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(self.startup_timeout) or not self.config:
            self.stop()
            raise RuntimeError("the local stack did not get ready:\n" + self.output)
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith(READY_PREFIX) and not self._ready.is_set():
                self.config = json.loads(line[len(READY_PREFIX):])
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, pattern: str, timeout: float = 5) -> re.Match[str] | None:
        """The first match of ``pattern`` in the stack's output, waiting up to ``timeout`` for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    @property
    def api(self) -> str:
        return str(self.config["api"])

    def ports(self) -> list[int]:
        """The ports the stack listens on: API, DynamoDB and (with the emulator) Stripe."""
        urls = [self.config["api"], self.config["dynamodb"], self.config.get("stripe")]
        return [int(url.rsplit(":", 1)[1]) for url in urls if url]

    def descendants(self) -> set[int]:
        """PIDs of every process below the stack's (Linux /proc)."""
        assert self.process is not None
        return descendants_of(self.process.pid)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Send ``sig`` (Ctrl-C by default) and wait for the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        return int(self.process.returncode)

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()


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
