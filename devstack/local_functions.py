"""What ``template.yaml`` says the local stack serves: functions, HTTP API routes, Function URLs, environment.

Nothing here is written twice: a route, function or variable added to the template is served by the
local stack without touching its code.

* Every ``AWS::Serverless::Function`` becomes a :class:`LocalFunction`: its handler file from
  ``CodeUri`` + ``Handler``, its layers' content directories (what Lambda puts on ``sys.path``), and its
  environment (``Globals.Function`` merged with the function's own, as SAM merges them).
* Its ``HttpApi`` events become :class:`Route` s (``GET /orders/{orderId}``), authorized when the API's
  ``DefaultAuthorizer`` is a JWT authorizer and the event does not say ``Authorizer: NONE``.
* A ``FunctionUrlConfig`` makes it reachable at ``/_lambda/<LogicalId>/`` on the local API's port.
* A Function URL function in a folder ``<endpoint>_callback`` (``payment_callback`` ...) is the Stripe
  webhook endpoint ``<endpoint>`` (one of ``payment``, ``refund``, ``subscription``, ``renewal``, ``connect``,
  ``usage``).

Intrinsics in environment values are resolved the way the local stack needs them: ``!Ref`` to a table
is its logical id (the local table name), to a parameter its ``Default`` (left out when it has none),
``!GetAtt X.Arn`` a local ARN, ``!Sub`` by the same rules. Anything else leaves the variable out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from devstack.lambda_events.common import ACCOUNT_ID, REGION
from devstack.template import TEMPLATE, load_template

STACK_NAME = "local"
WEBHOOK_ENDPOINTS = ("payment", "refund", "subscription", "renewal", "connect", "usage")
FUNCTION_URL_PREFIX = "/_lambda/"
#: Paths the local stack itself serves; a template route under one of them would be shadowed.
RESERVED_PREFIXES = (FUNCTION_URL_PREFIX, "/_local/", "/demo/")

_PARAM = re.compile(r"^\{([^{}+]+)(\+?)\}$")
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def handler_module_name(folder: str, module: str) -> str:
    """``function_<folder>_<module>``: the module name a handler file is imported as (see ``devstack.handlers``)."""
    return f"function_{folder}_{module.replace('.', '_')}"


class TemplateError(ValueError):
    """The template asks for something the local stack cannot serve (the message says what)."""


@dataclass(frozen=True)
class Route:
    """One HTTP API route: ``method`` (upper case, or ``ANY``) and ``path`` as in the template."""

    method: str
    path: str
    function: str
    authorized: bool = True

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/")) if self.path.strip("/") else ()

    def specificity(self) -> tuple[Any, ...]:
        """Sort key: API Gateway picks the most specific match (static > {param} > {greedy+}, then method)."""
        kinds = []
        for segment in self.segments:
            match = _PARAM.match(segment)
            kinds.append(0 if match is None else (2 if match.group(2) else 1))
        return (tuple(kinds), self.method == "ANY")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when ``method path`` takes this route, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        parts = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        if path != "/" + "/".join(parts):  # API Gateway does not fold "//" or a trailing "/"
            return None
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            found = _PARAM.match(segment)
            if found and found.group(2):  # {proxy+}: the rest of the path, at least one segment
                rest = parts[index:]
                if not rest:
                    return None
                params[found.group(1)] = unquote("/".join(rest))
                return params
            if index >= len(parts):
                return None
            if found:
                if not parts[index]:
                    return None
                params[found.group(1)] = unquote(parts[index])
            elif segment != parts[index]:
                return None
        return params if len(parts) == len(self.segments) else None


@dataclass(frozen=True)
class LocalFunction:
    """An ``AWS::Serverless::Function`` as the local stack runs it."""

    logical_id: str
    code_dir: Path
    handler_module: str
    handler_name: str
    layers: tuple[Path, ...] = ()
    routes: tuple[Route, ...] = ()
    function_url: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory: int = 128

    @property
    def folder(self) -> str:
        return self.code_dir.name

    @property
    def handler_file(self) -> Path:
        return self.code_dir / (self.handler_module.replace(".", "/") + ".py")

    @property
    def module_name(self) -> str:
        return handler_module_name(self.folder, self.handler_module)

    @property
    def url_path(self) -> str | None:
        return f"{FUNCTION_URL_PREFIX}{self.logical_id}/" if self.function_url else None

    @property
    def webhook_endpoint(self) -> str | None:
        """``payment`` for a Function URL function in ``functions/payment_callback/``, and so on."""
        if not self.function_url or not self.folder.endswith("_callback"):
            return None
        name = self.folder.removesuffix("_callback")
        return name if name in WEBHOOK_ENDPOINTS else None


class RouteTable:
    """The HTTP API's routes; :meth:`find` answers as API Gateway would pick (most specific first)."""

    def __init__(self, routes: Iterable[Route]):
        self.routes = sorted(routes, key=Route.specificity)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def __iter__(self):
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)


# ------------------------------------------------------------------------------------------ reading


def read_functions(template_path: Path | str = TEMPLATE) -> list[LocalFunction]:
    """Every function of the template at ``template_path`` (paths relative to the template's folder)."""
    template_path = Path(template_path).resolve()
    template = load_template(template_path)
    base = template_path.parent
    resources: dict[str, Any] = template.get("Resources") or {}
    globals_fn: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}
    functions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **(resource.get("Properties") or {})}
        code_uri, handler = props.get("CodeUri"), props.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{logical_id}: the local stack needs a local CodeUri and a Handler 'module.function'")
        module, _, name = handler.rpartition(".")
        layer_refs = list(globals_fn.get("Layers") or []) + list((resource.get("Properties") or {}).get("Layers") or [])
        functions.append(LocalFunction(
            logical_id=logical_id,
            code_dir=(base / code_uri).resolve(),
            handler_module=module,
            handler_name=name,
            layers=tuple(_layer_dir(resources, base, ref, logical_id) for ref in layer_refs),
            routes=tuple(_routes(template, logical_id, resource)),
            function_url=bool((resource.get("Properties") or {}).get("FunctionUrlConfig")),
            environment=function_environment(template, logical_id),
            timeout=int(props.get("Timeout") or 3),
            memory=int(props.get("MemorySize") or 128),
        ))
    _check_routes([route for function in functions for route in function.routes])
    return functions


def route_table(functions: Iterable[LocalFunction]) -> RouteTable:
    return RouteTable(route for function in functions for route in function.routes)


def _layer_dir(resources: Mapping[str, Any], base: Path, ref: Any, function: str) -> Path:
    layer_id = ref.get("Ref") if isinstance(ref, dict) else None
    layer = resources.get(layer_id) if isinstance(layer_id, str) else None
    if not layer or layer.get("Type") != "AWS::Serverless::LayerVersion":
        raise TemplateError(f"{function}: only layers of this template (!Ref to a LayerVersion) run locally")
    content = (layer.get("Properties") or {}).get("ContentUri")
    if not isinstance(content, str):
        raise TemplateError(f"{layer_id}: the local stack needs a local ContentUri")
    return (base / content).resolve()


def _authorizers(template: Mapping[str, Any], api_id: str | None) -> tuple[str | None, dict[str, Any]]:
    """(default authorizer name, authorizers) of the HTTP API ``api_id`` (None: SAM's implicit API)."""
    resources = template.get("Resources") or {}
    if api_id is not None and api_id in resources:
        auth = (resources[api_id].get("Properties") or {}).get("Auth") or {}
    else:
        auth = ((template.get("Globals") or {}).get("HttpApi") or {}).get("Auth") or {}
    return auth.get("DefaultAuthorizer"), auth.get("Authorizers") or {}


def _routes(template: Mapping[str, Any], logical_id: str, resource: Mapping[str, Any]) -> Iterable[Route]:
    for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
        if event.get("Type") != "HttpApi":
            continue
        props = event.get("Properties") or {}
        path, method = props.get("Path"), str(props.get("Method") or "ANY").upper()
        if not isinstance(path, str) or not path.startswith("/"):
            raise TemplateError(f"{logical_id}.{event_name}: the local stack needs an explicit Path")
        api_ref = props.get("ApiId")
        default, authorizers = _authorizers(template, api_ref.get("Ref") if isinstance(api_ref, dict) else None)
        authorizer = (props.get("Auth") or {}).get("Authorizer", default)
        if authorizer not in (None, "NONE") and "JwtConfiguration" not in (authorizers.get(authorizer) or {}):
            raise TemplateError(f"{logical_id}.{event_name}: only JWT authorizers run locally ({authorizer})")
        yield Route(method="ANY" if method == "ANY" else method, path=path, function=logical_id,
                    authorized=authorizer not in (None, "NONE"))


def _check_routes(routes: list[Route]) -> None:
    seen: dict[str, str] = {}
    for route in routes:
        if route.path.startswith(RESERVED_PREFIXES) or route.path in ("/_local", "/demo"):
            raise TemplateError(f"route {route.route_key} is under a path the local stack keeps for itself")
        if route.route_key in seen:
            raise TemplateError(f"route {route.route_key} is declared by {seen[route.route_key]} and {route.function}")
        seen[route.route_key] = route.function


def function_environment(template: Mapping[str, Any], logical_id: str | None, *, refs: Mapping[str, str] | None = None,
                         parameters: Mapping[str, Any] | None = None) -> dict[str, str]:
    """A function's environment as CloudFormation would set it (Globals' variables, then its own), resolved;
    ``logical_id=None`` gives the Globals' alone. ``refs`` give resources a value of their own (an ARN), and
    ``parameters`` override parameter defaults."""
    variables = dict((((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {})
                     .get("Variables") or {})
    if logical_id is not None:
        props = (template.get("Resources") or {})[logical_id].get("Properties") or {}
        variables.update((props.get("Environment") or {}).get("Variables") or {})
    return TemplateResolver(template, refs=refs, parameters=parameters).environment(variables)


class TemplateResolver:
    """CloudFormation intrinsics in environment values, resolved for the local stack and the bench: Ref (pseudo
    parameters, parameters, resources: a table's local name is its logical id), GetAtt (a table's Arn), Sub, Join,
    If (conditions on the parameters) and AWS::NoValue. A value it cannot resolve is left out."""

    _PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": STACK_NAME,
               "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def __init__(self, template: Mapping[str, Any], *, refs: Mapping[str, str] | None = None,
                 parameters: Mapping[str, Any] | None = None):
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        self.parameters: Mapping[str, Any] = template.get("Parameters") or {}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self.refs: Mapping[str, str] = refs or {}
        self.overrides: Mapping[str, Any] = parameters or {}

    def environment(self, variables: Mapping[str, Any]) -> dict[str, str]:
        resolved = {}
        for name, value in variables.items():
            text = self.value(value)
            if text is not None:
                resolved[name] = text
        return resolved

    def value(self, value: Any) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref" and isinstance(argument, str):
                return self.ref(argument)
            if function == "Fn::GetAtt":
                parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
                return self.get_att(parts[0], parts[1]) if len(parts) == 2 else None
            if function == "Fn::Sub" and isinstance(argument, str):
                return self.sub(argument)
            if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
                return self.join(*argument)
            if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
                return self.value(argument[1] if self.condition(argument[0]) else argument[2])
        return None

    def join(self, separator: str, items: Any) -> str | None:
        """``!Join [sep, list]``: the list may be a list of values or a Ref to a CommaDelimitedList parameter."""
        if isinstance(items, dict):
            joined = self.value(items)  # a list parameter's Ref already reads as "a,b"
            return None if joined is None else separator.join(p for p in joined.split(",") if p)
        parts = [self.value(item) for item in items] if isinstance(items, list) else [None]
        return None if any(p is None for p in parts) else separator.join(p for p in parts if p is not None)

    def condition(self, name: Any) -> bool:
        """A template condition, evaluated on the parameters' defaults (Equals, Not, And, Or)."""
        expression = self.conditions.get(name) if isinstance(name, str) else name
        if not isinstance(expression, dict) or len(expression) != 1:
            return False
        (function, argument), = expression.items()
        if function == "Fn::Equals":
            left, right = (self.value(item) if isinstance(item, dict) else str(item) for item in argument)
            return left == right
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(item) for item in argument)
        if function == "Fn::Or":
            return any(self.condition(item) for item in argument)
        if function == "Condition":
            return self.condition(argument)
        return False

    def ref(self, name: str) -> str | None:
        if name in self.refs:
            return self.refs[name]
        if name in self._PSEUDO:
            return self._PSEUDO[name]
        if name in self.parameters:
            default = self.overrides.get(name, self.parameters[name].get("Default"))
            if isinstance(default, list):
                return ",".join(str(item) for item in default)
            return None if default is None else str(default)
        return name if name in self.resources else None  # a table's local name is its logical id

    def get_att(self, name: str, attribute: str) -> str | None:
        resource = self.resources.get(name)
        if resource is None:
            return None
        if resource.get("Type") == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        return None

    def sub(self, text: str) -> str | None:
        missing = False

        def replace(match: re.Match[str]) -> str:
            nonlocal missing
            name = match.group(1)
            value = self.get_att(*name.split(".", 1)) if "." in name else self.ref(name)
            if value is None:
                missing = True
                return ""
            return value

        result = _SUB_VARIABLE.sub(replace, text)
        return None if missing else result


def resolve(template: Mapping[str, Any], value: Any) -> Any:
    """``value`` (an event source's properties: a rule's pattern, a stream's settings) with every intrinsic in it
    resolved by the rules above; lists and objects are kept, an intrinsic it cannot resolve becomes None."""
    resolver = TemplateResolver(template)

    def walk(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt", "Fn::Sub",
                                                                                 "Fn::Join", "Fn::If"):
            (function, argument), = node.items()
            if function == "Fn::GetAtt":
                parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
                if len(parts) == 2 and parts[1] in ("Arn", "StreamArn", "QueueUrl", "QueueName"):
                    return parts[0]  # locally, a resource is named by its logical id
            return resolver.value(node)
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(value)


def function_events(template: Mapping[str, Any], event_type: str) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(function, event name, properties with intrinsics resolved) of each event of ``event_type`` (``DynamoDB``,
    ``EventBridgeRule``, ...) of the template's functions."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") == event_type:
                yield logical_id, event_name, resolve(template, event.get("Properties") or {})
