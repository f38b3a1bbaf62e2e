"""Events out and live status in the local stack, all read from ``template.yaml``:

* the tables' DynamoDB Streams (moto's server serves the Streams API) read by the template's ``DynamoDB`` event
  sources, which invoke their function (``EventPublisherFunction``) as Lambda does (``devstack.local_streams``),
  with their ``OnFailure`` queues in moto's SQS;
* EventBridge (``devstack.local_events``): the functions' ``PutEvents`` reach ``/_local/aws/events`` on the API's
  port (``AWS_ENDPOINT_URL_EVENTBRIDGE``), and every function whose ``EventBridgeRule`` matches is invoked;
* the WebSocket API (``devstack.local_websocket``) on its own port, with its management API
  (``LIVE_MANAGEMENT_URL``), and the local issuer's keys at ``/_local/.well-known/jwks.json`` (``JWT_JWKS_URL``),
  so ``LiveAuthorizerFunction`` verifies tokens from ``make token`` as it verifies Cognito's in AWS.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from devstack.lambda_events.common import REGION
from devstack.local_auth import LOCAL_AUDIENCE, LOCAL_ISSUER
from devstack.local_events import LocalEventBus, read_rules
from devstack.local_functions import LocalFunction
from devstack.local_http import Response, _is_loopback
from devstack.local_streams import StreamConsumer, StreamPoller, StreamsApiReader, read_stream_mappings, sqs_dead_letter
from devstack.local_websocket import LocalWebSocketServer, read_websocket_api

EVENTS_PATH = "/_local/aws/events"
JWKS_PATH = "/_local/.well-known/jwks.json"
DEFAULT_LIVE_PORT = 3001


def local_endpoints(environment: Mapping[str, str], *, api_url: str, live_management_url: str) -> dict[str, str]:
    """What a function's environment needs locally to reach the stack's bus, WebSocket API and issuer."""
    overrides: dict[str, str] = {}
    if "EVENT_BUS_NAME" in environment:
        overrides["AWS_ENDPOINT_URL_EVENTBRIDGE"] = api_url + EVENTS_PATH
    if "LIVE_MANAGEMENT_URL" in environment:
        overrides["LIVE_MANAGEMENT_URL"] = live_management_url
    if "JWT_ISSUER" in environment:
        overrides.update({"JWT_ISSUER": LOCAL_ISSUER, "JWT_AUDIENCE": LOCAL_AUDIENCE,
                          "JWT_JWKS_URL": api_url + JWKS_PATH})
    return overrides


class EventsAndLive:
    """Bind with the constructor (the WebSocket port is known from then on), :meth:`start` once the handlers are
    loaded, :meth:`stop` at the end."""

    def __init__(self, template: Mapping[str, Any], *, host: str, live_port: int, public_keys: dict[str, Any],
                 log: Callable[[str], None]):
        self.log = log
        self.public_keys = public_keys
        self.mappings = read_stream_mappings(template)
        self.queues = [name for name, r in (template.get("Resources") or {}).items()
                       if r.get("Type") == "AWS::SQS::Queue"]
        self.queue_urls: dict[str, str] = {}
        self._invoke: Callable[[str, dict[str, Any]], Any] | None = None
        self.bus = LocalEventBus(read_rules(template), self.invoke, log)
        api = read_websocket_api(template)
        self.websocket = LocalWebSocketServer(api, self.invoke, host, live_port, log).start() if api else None
        self.poller: StreamPoller | None = None
        self.sqs: Any = None

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        if self._invoke is None:
            raise RuntimeError("the local stack is still starting")
        return self._invoke(function, event)

    @property
    def management_url(self) -> str:
        return self.websocket.management_url if self.websocket else ""

    def start(self, functions: list[LocalFunction], run: Callable[[LocalFunction, dict[str, Any]], Any],
              dynamodb_url: str) -> None:
        import boto3

        by_id = {function.logical_id: function for function in functions}
        self._invoke = lambda function, event: run(by_id[function], event)
        credentials = {"endpoint_url": dynamodb_url, "region_name": REGION, "aws_access_key_id": "local",
                       "aws_secret_access_key": "local"}  # moto takes any
        self.sqs = boto3.client("sqs", **credentials)
        self.queue_urls = {name: self.sqs.create_queue(QueueName=name)["QueueUrl"] for name in self.queues}
        reader = StreamsApiReader(boto3.client("dynamodb", **credentials),
                                  boto3.client("dynamodbstreams", **credentials))
        consumers = [StreamConsumer(mapping, reader, lambda event, f=mapping.function: self.invoke(f, event),
                                    sqs_dead_letter(self.sqs, self.queue_urls), self.log)
                     for mapping in self.mappings if mapping.function in by_id]
        self.bus.start()
        self.poller = StreamPoller(consumers, log=self.log).start()

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
            self.poller = None
        self.bus.stop()
        if self.websocket is not None:
            self.websocket.stop()
            self.websocket = None

    # ------------------------------------------------------------------ endpoints on the API's port

    def local_routes(self) -> dict[str, Callable[[Any], Response]]:
        return {EVENTS_PATH.removeprefix("/_local/"): self._put_events,
                JWKS_PATH.removeprefix("/_local/"): self._jwks,
                "events": self._recent}

    def _put_events(self, request: Any) -> Response:
        if request.method != "POST":
            return Response.json(405, {"message": "Method Not Allowed"})
        status, body = self.bus.answer(request.header("x-amz-target") or "", request.body or b"")
        entries = len(body.get("Entries") or []) if isinstance(body, dict) else 0
        answer = Response.json(status, body, note=f"PutEvents {entries} entr{'y' if entries == 1 else 'ies'}")
        answer.headers = [("content-type", "application/x-amz-json-1.1")]
        return answer

    def _jwks(self, request: Any) -> Response:
        return Response.json(200, {"keys": [self.public_keys]}, headers=[("cache-control", "max-age=300")])

    def _recent(self, request: Any) -> Response:
        """``GET /_local/events?since=<epoch seconds>``: the events the bus took since then (loopback only)."""
        if not _is_loopback(request.client_ip):
            return Response.json(403, {"message": "local events are shown to loopback clients only"})
        query = dict(urllib.parse.parse_qsl(request.query))
        try:
            since = float(query.get("since") or 0)
        except ValueError:
            return Response.json(400, {"message": "since is epoch seconds"})
        events = [event for event in list(self.bus.recent) if event["receivedAt"] > since]
        return Response.json(200, {"events": events, "now": time.time()}, headers=[("cache-control", "no-store")])

    # ------------------------------------------------------------------ telling

    def config(self, api_url: str) -> dict[str, Any]:
        return {
            "live": self.websocket.url if self.websocket else None,
            "liveManagement": self.management_url or None,
            "eventBus": api_url + EVENTS_PATH,
            "eventRules": {rule.name: {"function": rule.function, "bus": rule.bus, "pattern": rule.pattern}
                           for rule in self.bus.rules},
            "streams": [f"{m.table} -> {m.function}" for m in self.mappings],
            "deadLetterQueues": dict(self.queue_urls),
        }

    def summary_lines(self, api_url: str) -> list[str]:
        lines = []
        if self.mappings:
            tables = ", ".join(m.table for m in self.mappings)
            lines.append(f"  Streams        {tables} -> {', '.join(sorted({m.function for m in self.mappings}))}")
        if self.bus.rules:
            lines.append(f"  EventBridge    {api_url}{EVENTS_PATH}   (rules of the template, matched locally):")
            for rule in self.bus.rules:
                pattern = json.dumps(rule.pattern, separators=(",", ":"))
                lines.append(f"                   {rule.function:<30} {pattern}")
        if self.websocket is not None:
            lines.append(f"  Live status    {self.websocket.url}?token=<make token>   (management API "
                         f"{self.management_url}/@connections/{{id}})")
        return lines
