"""One HTTP server for everything local: a WSGI app served on a port by werkzeug, in a background thread.

The local stack's API and Function URLs, its DynamoDB (moto's app) and the tests' stand-ins (a failing
Stripe, a webhook receiver, Function URLs for the emulator's webhooks) are each a WSGI app served by
:class:`LoopbackServer`::

    with LoopbackServer(app) as server:     # port 0: a free port, chosen when it binds
        urlopen(server.url + "/path")

It binds when it is made (a port in use raises ``OSError`` there), serves from :meth:`start` in a
daemon thread, one thread per request, and stops with :meth:`stop`. werkzeug's own per-request log
line is off: each app logs what it wants (the local stack, one line per request).
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without its access log (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LoopbackServer:
    """Serve ``app`` on ``host:port`` (port 0: any free port), one thread per request."""

    def __init__(self, app: WSGIApplication | None, host: str = "127.0.0.1", port: int = 0, *,
                 request_handler: type[WSGIRequestHandler] = QuietRequestHandler,
                 ssl_context: ssl.SSLContext | None = None):
        # Bound here, not by werkzeug: werkzeug exits the process when a port is taken.
        listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,  # type: ignore[arg-type]
                                                       request_handler=request_handler, fd=listener.fileno(),
                                                       ssl_context=ssl_context)
        finally:
            listener.close()  # the server holds its own copy of the socket
        self._scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def app(self) -> WSGIApplication | None:
        """The WSGI app; may be set after the port is bound, before :meth:`start`."""
        return self._server.app

    @app.setter
    def app(self, app: WSGIApplication) -> None:
        self._server.app = app

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` (``https`` with an ``ssl_context``); a server listening on every interface is
        called on loopback."""
        host = str(self._server.server_address[0])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"{self._scheme}://[{host}]:{self.port}" if ":" in host else f"{self._scheme}://{host}:{self.port}"

    def start(self) -> Self:
        if self._server.app is None:
            raise RuntimeError("LoopbackServer: set the app before start()")
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name=f"loopback-{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port. Safe to call twice, and without :meth:`start`."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
