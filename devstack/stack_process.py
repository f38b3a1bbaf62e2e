"""The local stack as a child process, as ``make dev`` runs it: ``python -m devstack.local_stack serve`` on
free ports, ready once it prints its ``LOCAL_STACK_READY`` line, stopped with Ctrl-C.

``make demo`` runs one this way when no stack answers; the tests do too. Its output is read all along (a
full pipe would block the stack) and kept in :attr:`StackProcess.lines`.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack import REPO_ROOT
from devstack.local_stack import READY_PREFIX


class StackProcess:
    """``with StackProcess() as stack:`` a running stack; ``stack.config`` is its ready line's JSON (its URLs)."""

    def __init__(self, state_dir: Path | None = None, template: Path | None = None,
                 env: Mapping[str, str] | None = None, startup_timeout: float = 60,
                 extra_args: tuple[str, ...] = ()):
        self.command = [sys.executable, "-m", "devstack.local_stack", "serve",
                        "--api-port", "0", "--dynamodb-port", "0", "--stripe-port", "0",
                        "--live-port", "0", *extra_args]
        if state_dir is not None:
            self.command += ["--state-dir", str(state_dir)]
        if template is not None:
            self.command += ["--template", str(template)]
        self.env = None if env is None else dict(env)
        self.startup_timeout = startup_timeout
        self.config: dict[str, Any] = {}
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> StackProcess:
        """Start it and wait for its ready line; RuntimeError with its output if it does not get ready."""
        self.process = subprocess.Popen(self.command, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL,
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

    @property
    def api(self) -> str:
        return str(self.config["api"])

    def ports(self) -> list[int]:
        """The ports the stack listens on: API, DynamoDB, (with the emulator) Stripe, and the WebSocket API."""
        urls = [self.config["api"], self.config["dynamodb"], self.config.get("stripe"), self.config.get("live")]
        return [int(url.rsplit(":", 1)[1].split("/", 1)[0]) for url in urls if url]

    def wait_for_output(self, pattern: str, timeout: float = 5) -> re.Match[str] | None:
        """The first match of ``pattern`` in the stack's output, waiting up to ``timeout`` for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Send ``sig`` (Ctrl-C by default), wait for the exit code (kill it after ``timeout``) and return it."""
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
