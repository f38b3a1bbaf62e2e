"""The tooling's tests: the local stack, the Stripe emulator, the Lambda-event builders and sample events,
the handler runtime, local auth, env.local.json, the checkout page in a browser, the demo.

Every test under this folder is marked ``tooling``, so ``make test`` reports them apart from the product's
(``pytest -m tooling``, after ``pytest -m "not tooling"``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TOOLING = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by marker (-m)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TOOLING in item.path.resolve().parents:
            item.add_marker(pytest.mark.tooling)
