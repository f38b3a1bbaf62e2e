"""A Lambda context object, as the runtime passes to a handler (for tests and the local stack)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from devstack.lambda_events.common import ACCOUNT_ID, REGION


@dataclass
class LambdaContext:
    function_name: str = "local-function"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local-function"
    log_stream_name: str = "local"
    remaining_ms: int = 29_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
