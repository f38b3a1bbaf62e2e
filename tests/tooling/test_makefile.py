"""The Makefile's promises: ``make help`` names only targets that exist, and ``make token`` without a user
answers with its usage line (no traceback, no install first)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from devstack import REPO_ROOT

MAKEFILE = REPO_ROOT / "Makefile"


def run_make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Not the variables of a make this test may run under (`make test`): this make stands alone.
    clean = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO_ROOT, env=clean,  # noqa: S603, S607
                          capture_output=True, text=True, timeout=60, check=False)


def test_every_target_make_help_names_exists():
    text = MAKEFILE.read_text()
    help_lines = [line for line in text.splitlines() if line.startswith("#   make ")]
    named = {re.match(r"#   make (\S+)", line).group(1) for line in help_lines}  # type: ignore[union-attr]
    assert {"dev", "token", "demo", "test", "lint"} <= named
    missing = [name for name in named if not re.search(rf"^{re.escape(name)}:", text, re.MULTILINE)]
    assert not missing, f"make help names targets the Makefile does not have: {missing}"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_token_without_a_user_prints_its_usage():
    # When `make token` runs with no USER in the environment
    result = run_make("token", env={k: v for k, v in os.environ.items() if k != "USER"})
    # Then it says how to call it and fails, without a traceback
    assert result.returncode != 0
    assert "usage: make token USER=alice [ADMIN=1]" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_token_command_refuses_a_blank_user():
    result = subprocess.run([sys.executable, "-m", "devstack.local_stack", "token", "--user", " "],  # noqa: S603
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "a token needs a user id" in result.stderr and "Traceback" not in result.stderr
