"""LiveAuthorizerFunction: the WebSocket API's $connect takes the HTTP API's JWT in ?token= (``payments.live.auth``)."""

from payments.core.observability import lambda_handler_for
from payments.live.auth import authorize

lambda_handler = lambda_handler_for(authorize)
