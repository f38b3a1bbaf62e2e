"""Handlers served as Lambda Function URLs on loopback, so the Stripe emulator's webhooks reach them.

Each POST becomes the event a Function URL sends (payload 2.0, lower-case headers, the raw body
base64-encoded, as Lambda does for a body it does not take for text), so the callbacks verify the
signature over exactly the bytes the emulator signed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import function_url_event
from devstack.loopback import LoopbackServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class Delivery:
    path: str
    status: int
    body: str


class FunctionUrlServer:
    """``FunctionUrlServer({"/payment": handler})``: a POST to ``url("/payment")`` invokes ``handler`` as Lambda
    would; ``deliveries`` lists every answer, and :meth:`wait_for` waits for one."""

    def __init__(self, routes: dict[str, Handler]):
        self.routes = routes
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._server = LoopbackServer(self._invoke)

    def url(self, path: str) -> str:
        return self._server.url + path

    @Request.application
    def _invoke(self, request: Request) -> Response:
        handler = self.routes.get(request.path)
        if handler is None:
            return Response('{"message":"Not found"}', 404, content_type="application/json")
        event = function_url_event(request.get_data(), base64=True, headers=dict(request.headers.items()))
        answer = handler(event, LambdaContext(function_name=request.path.strip("/")))
        body = answer.get("body") or ""
        with self._changed:
            self.deliveries.append(Delivery(request.path, answer["statusCode"], body))
            self._changed.notify_all()
        return Response(body, answer["statusCode"], answer.get("headers"))

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 60.0) -> bool:
        """Block until ``predicate(deliveries)`` holds (True) or ``timeout`` passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.deliveries), timeout)

    def __enter__(self) -> FunctionUrlServer:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()
