"""What a function loads at a cold start: reading orders loads no Stripe code (the stripe SDK, or the product's
views of Stripe objects), so OrdersFunction's cold start does not pay for it (``make bench`` measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devstack.template import REPO_ROOT


def loaded_by(folder: str) -> list[str]:
    """The Stripe modules importing ``functions/<folder>/app.py`` loads, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'functions' / folder}:{REPO_ROOT / 'layers' / 'common'}",
           "POWERTOOLS_TRACE_DISABLED": "true", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    code = ("import json, sys; import app; print(json.dumps(sorted(m for m in sys.modules "
            "if m == 'stripe' or m.startswith(('stripe.', 'payments.stripe')))))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT / "functions" / folder,  # noqa: S603
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_reading_orders_loads_no_stripe_code_at_a_cold_start():
    assert loaded_by("orders") == []
