"""A loopback server that answers every request with one fixed status and JSON body (a failing Stripe)."""

from __future__ import annotations

import json
import socket
from typing import Any

from werkzeug.wrappers import Response

from devstack.loopback import LoopbackServer


class FixedAnswerServer(LoopbackServer):
    """``with FixedAnswerServer(500, {"error": ...}) as stripe:`` and point the product at ``stripe.url``."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(Response(json.dumps(body), status, headers, content_type="application/json"))


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
