"""DynamoDB for the local stack: moto's server app on a loopback port, one request at a time, with the
template's tables.

moto's ``TransactWriteItems`` is not isolated between threads: when a condition fails it puts back a deep
copy of every table the transaction touched, undoing whatever other threads committed in the meantime.
DynamoDB applies each request atomically; here each request moto serves holds one lock
(:func:`one_request_at_a_time`, a WSGI middleware around moto's app). Concurrent webhook deliveries and API
calls still interleave between their requests, as they do against DynamoDB, but one can never undo
another's commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import boto3
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from devstack.lambda_events.common import REGION
from devstack.loopback import LoopbackServer, QuietRequestHandler
from devstack.template import create_tables

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class _MotoRequestHandler(QuietRequestHandler, MotoRequestHandler):
    """moto's request handler (it keeps header names with underscores), without the access log."""


def one_request_at_a_time(app: WSGIApplication) -> WSGIApplication:
    """``app`` answering one request at a time: the whole answer is made, and the app's clean-up run, under
    one lock."""
    lock = threading.Lock()

    def serialized(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with lock:
            answer = app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

    return serialized


def serve_dynamodb(host: str, port: int, template: dict[str, Any]) -> LoopbackServer:
    """moto's DynamoDB serving on ``host:port`` (0: a free port) with every table of ``template``."""
    app = one_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    server = LoopbackServer(app, host, port, request_handler=_MotoRequestHandler).start()
    client = boto3.client("dynamodb", endpoint_url=server.url, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    create_tables(client, template)
    return server
