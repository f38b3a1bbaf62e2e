"""Serve Lambda handlers as Function URLs on loopback: each HTTP request becomes the event Lambda sends.

The emulator's webhooks are delivered here and reach the real callback handlers, with the same event
shape (base64 flag, lowercase headers, raw body) a Function URL gives them in AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import function_url_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class Delivery:
    path: str
    status: int
    body: str


class FunctionUrlServer:
    """``FunctionUrlServer({"/payment": handler})``: POSTs to /payment invoke ``handler`` as Lambda would."""

    def __init__(self, routes: dict[str, Handler], host: str = "127.0.0.1", port: int = 0):
        self.routes = routes
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                handler = server.routes.get(self.path.split("?")[0])
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if handler is None:
                    status, headers, body = 404, {"content-type": "application/json"}, '{"message":"Not found"}'
                else:
                    event = function_url_event(raw, base64=True,
                                               headers=dict(self.headers.items()))
                    event["rawPath"] = event["requestContext"]["http"]["path"] = self.path
                    response = handler(event, LambdaContext(function_name=self.path.strip("/")))
                    status, headers = response["statusCode"], response.get("headers") or {}
                    body = response.get("body") or ""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())
                with server._changed:
                    server.deliveries.append(Delivery(self.path, status, body))
                    server._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((host, port), RequestHandler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 60.0) -> bool:
        """Block until ``predicate(deliveries)`` holds (True) or ``timeout`` passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.deliveries), timeout)

    def __enter__(self) -> FunctionUrlServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)
