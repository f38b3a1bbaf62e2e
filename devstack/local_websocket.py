"""API Gateway's WebSocket API for the local stack, from ``template.yaml``, on aiohttp (a thread of its own).

* :func:`read_websocket_api` finds the template's ``AWS::ApiGatewayV2::Api`` with ``ProtocolType: WEBSOCKET``: its
  route selection (``$request.body.<field>``), its routes and the function each integrates with (``AWS_PROXY``;
  ``${XFunctionAliaslive}`` is function ``XFunction``), which routes answer the client (a ``RouteResponse``),
  and the ``REQUEST`` authorizer of ``$connect`` with its identity source.
* ``GET /<stage>?token=...`` upgrades to a WebSocket as API Gateway does: the authorizer runs first (an
  ``Unauthorized`` error is a 401, a ``Deny`` a 403, both before the upgrade), then ``$connect`` (a non-2xx
  answer refuses the connection). Each text message is routed by the selection expression (``$default`` when no
  route has its key); a route with a route response sends the function's ``body`` back. Closing runs
  ``$disconnect``. Every route gets the authorizer's principal and context in ``requestContext.authorizer``.
* The management API, at the same address: ``POST /<stage>/@connections/{id}`` sends the body to the connection,
  ``GET`` describes it, ``DELETE`` closes it; an unknown connection is a 410 ``GoneException``, as API Gateway
  answers. That is what ``LIVE_MANAGEMENT_URL`` points at locally, so ``LiveNotifyFunction`` runs unchanged.

Functions run through the stack's handler runtime, off the event loop (it may be busy in another invocation).
Each connection, refusal, message and management call is one line of the stack's log.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from devstack.lambda_events.websocket import (
    STAGE,
    allowed_context,
    authorizer_event,
    connection_id,
    websocket_event,
)

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    selection_field: str = "action"
    routes: Mapping[str, str] = field(default_factory=dict)  # route key -> function logical id
    answering: frozenset[str] = frozenset()  # routes with a route response
    authorizer: str | None = None  # function logical id of $connect's REQUEST authorizer
    identity_query: str | None = None  # the query parameter the authorizer needs (route.request.querystring.X)
    stage: str = STAGE


def _function_of(uri: Any, functions: set[str]) -> str | None:
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
    for name in _SUB_NAME.findall(str(text or "")):
        base = re.sub(r"Alias[A-Za-z0-9]+$", "", name)
        if base in functions:
            return base
    return None


def read_websocket_api(template: Mapping[str, Any]) -> WebSocketApi | None:
    resources: Mapping[str, Any] = template.get("Resources") or {}
    apis = [name for name, r in resources.items()
            if r.get("Type") == "AWS::ApiGatewayV2::Api" and (r.get("Properties") or {}).get("ProtocolType")
            == "WEBSOCKET"]
    if not apis:
        return None
    api = apis[0]
    functions = {name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}

    def of_api(kind: str) -> dict[str, Mapping[str, Any]]:
        return {name: r.get("Properties") or {} for name, r in resources.items()
                if r.get("Type") == kind and (r.get("Properties") or {}).get("ApiId") == {"Ref": api}}

    integrations = {name: _function_of(p.get("IntegrationUri"), functions)
                    for name, p in of_api("AWS::ApiGatewayV2::Integration").items()}
    routes, route_ids, authorizer, identity = {}, {}, None, None
    for name, props in of_api("AWS::ApiGatewayV2::Route").items():
        target = _SUB_NAME.findall(str((props.get("Target") or {}).get("Fn::Sub", "")))
        function = integrations.get(target[0]) if target else None
        if function:
            routes[str(props.get("RouteKey"))] = function
            route_ids[name] = str(props.get("RouteKey"))
        if props.get("AuthorizationType") == "CUSTOM":
            auth = (resources.get((props.get("AuthorizerId") or {}).get("Ref", "")) or {}).get("Properties") or {}
            authorizer = _function_of(auth.get("AuthorizerUri"), functions)
            sources = [s for s in auth.get("IdentitySource") or [] if str(s).startswith("route.request.querystring.")]
            identity = sources[0].rsplit(".", 1)[1] if sources else None
    answering = frozenset(route_ids[(p.get("RouteId") or {}).get("Ref", "")]
                          for p in of_api("AWS::ApiGatewayV2::RouteResponse").values()
                          if (p.get("RouteId") or {}).get("Ref", "") in route_ids)
    expression = str((resources[api].get("Properties") or {}).get("RouteSelectionExpression") or "")
    stages = [p.get("StageName") for p in of_api("AWS::ApiGatewayV2::Stage").values()]
    return WebSocketApi(api, expression.removeprefix("$request.body.") or "action", routes, answering, authorizer,
                        identity, str(stages[0]) if stages else STAGE)


class LocalWebSocketServer:
    """Serve ``api`` on ``host:port`` (0: a free port); ``invoke(function, event)`` runs a function."""

    def __init__(self, api: WebSocketApi, invoke: Callable[[str, dict[str, Any]], Any], host: str = "127.0.0.1",
                 port: int = 0, log: Callable[[str], None] = print):
        self.api, self.invoke, self.host, self.port, self.log = api, invoke, host, port, log
        self.connections: dict[str, tuple[web.WebSocketResponse, dict[str, Any]]] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL clients connect to (``ws://host:port/<stage>``)."""
        return f"ws://{self._reachable}:{self.port}/{self.api.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self._reachable}:{self.port}/{self.api.stage}"

    @property
    def _reachable(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host

    def start(self) -> LocalWebSocketServer:
        app = web.Application()
        app.router.add_get("/", self._connect)
        app.router.add_get("/{stage}", self._connect)
        for prefix in ("", "/{stage}"):
            app.router.add_route("*", prefix + "/@connections/{connection_id}", self._manage)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        self._loop.run_until_complete(site.start())
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._loop.run_forever, name="websocket-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            for socket, _ in list(self.connections.values()):
                await socket.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None

    # ------------------------------------------------------------------ connections

    async def _run(self, function: str, event: dict[str, Any]) -> Any:
        return await self._loop.run_in_executor(None, self.invoke, function, event)

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        if request.match_info.get("stage", self.api.stage) != self.api.stage:
            return web.json_response({"message": "Forbidden"}, status=403)
        if not request.headers.get("upgrade", "").lower() == "websocket":
            return web.json_response({"message": "Expected a WebSocket upgrade"}, status=426)
        connection = connection_id()
        query, headers = dict(request.query), {k.lower(): v for k, v in request.headers.items()}
        authorizer: dict[str, Any] | None = None
        if self.api.authorizer:
            if self.api.identity_query and not query.get(self.api.identity_query):
                self.log(f"WS connect refused 401: no {self.api.identity_query} in the query string")
                return web.json_response({"message": "Unauthorized"}, status=401)
            try:
                policy = await self._run(self.api.authorizer, authorizer_event(connection, query, headers))
            except Exception as error:
                if str(error) == "Unauthorized":
                    self.log(f"WS connect refused 401 by {self.api.authorizer}")
                    return web.json_response({"message": "Unauthorized"}, status=401)
                self.log(f"WS connect failed 500: {self.api.authorizer} raised {type(error).__name__}: {error}")
                return web.json_response({"message": "Internal server error"}, status=500)
            effects = {str(s.get("Effect")) for s in ((policy or {}).get("policyDocument") or {}).get("Statement", [])}
            if effects != {"Allow"}:
                self.log(f"WS connect refused 403 by {self.api.authorizer} (policy {sorted(effects)})")
                return web.json_response({"message": "Forbidden"}, status=403)
            authorizer = allowed_context(policy)
        connect = self.api.routes.get("$connect")
        if connect:
            try:
                answer = await self._run(connect, websocket_event("$connect", connection, authorizer=authorizer,
                                                                  query=query, headers=headers))
            except Exception as error:
                self.log(f"WS connect failed 500: {connect} raised {type(error).__name__}: {error}")
                return web.json_response({"message": "Internal server error"}, status=500)
            status = int((answer or {}).get("statusCode", 200)) if isinstance(answer, dict) else 200
            if not 200 <= status < 300:
                self.log(f"WS connect refused {status} by {connect}")
                return web.json_response({"message": "Forbidden"}, status=status)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections[connection] = (socket, authorizer or {})
        who = (authorizer or {}).get("principalId")
        self.log(f"WS connect {connection} user={who} ({len(self.connections)} open)")
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._message(connection, socket, authorizer, message.data)
        finally:
            self.connections.pop(connection, None)
            disconnect = self.api.routes.get("$disconnect")
            if disconnect:
                try:
                    await self._run(disconnect, websocket_event("$disconnect", connection, authorizer=authorizer))
                except Exception as error:
                    self.log(f"WS $disconnect of {connection}: {disconnect} raised {type(error).__name__}")
            self.log(f"WS disconnect {connection} user={who}")
        return socket

    async def _message(self, connection: str, socket: web.WebSocketResponse, authorizer: dict[str, Any] | None,
                       data: str) -> None:
        try:
            key = json.loads(data).get(self.api.selection_field)
        except (ValueError, AttributeError):
            key = None
        route = key if isinstance(key, str) and key in self.api.routes else "$default"
        function = self.api.routes.get(route)
        if function is None:
            await socket.send_str(json.dumps({"message": "Forbidden", "connectionId": connection}))
            return
        try:
            answer = await self._run(function, websocket_event(route, connection, body=data, authorizer=authorizer))
        except Exception as error:
            self.log(f"WS message {route} from {connection}: {function} raised {type(error).__name__}")
            await socket.send_str(json.dumps({"message": "Internal server error", "connectionId": connection}))
            return
        if route in self.api.answering and isinstance(answer, dict) and answer.get("body") is not None:
            await socket.send_str(str(answer["body"]))
        self.log(f"WS message {route} from {connection} -> {function}")

    # ------------------------------------------------------------------ the management API

    async def _manage(self, request: web.Request) -> web.StreamResponse:
        connection = request.match_info["connection_id"]
        started = time.monotonic()
        found = self.connections.get(connection)
        if found is None:
            self.log(f"WS {request.method} /@connections/{connection} 410 (gone)")
            return web.json_response({"message": f"Connection {connection} is gone"}, status=410,
                                     headers={"x-amzn-ErrorType": "GoneException"})
        socket, authorizer = found
        if request.method == "POST":
            body = await request.read()
            await socket.send_str(body.decode("utf-8", "replace"))
            note = _message_note(body)
            self.log(f"WS POST /@connections/{connection} 200 user={authorizer.get('principalId')} {note}"
                     f"{(time.monotonic() - started) * 1000:.0f}ms")
            return web.Response(status=200)
        if request.method == "DELETE":
            await socket.close()
            return web.Response(status=204)
        if request.method == "GET":
            return web.json_response({"connectedAt": None, "identity": {"sourceIp": "127.0.0.1"}})
        return web.json_response({"message": "Method Not Allowed"}, status=405)


def _message_note(body: bytes) -> str:
    try:
        message = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(message, dict):
        return ""
    order = message.get("order") if isinstance(message.get("order"), dict) else {}
    return f"{message.get('type')} {order.get('orderId', '')} {order.get('status', '')} ".replace("  ", " ")
