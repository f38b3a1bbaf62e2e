"""Call a handler the way Lambda does, and read its answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from devstack.lambda_context import LambdaContext


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error_code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


def invoke(module: ModuleType, event: dict[str, Any]) -> Answer:
    response = module.lambda_handler(event, LambdaContext(function_name=module.__name__))
    raw = response.get("body") or ""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return Answer(status=response["statusCode"], body=body, headers=response.get("headers") or {})
