"""LiveNotifyFunction: each domain event about an order, sent to its owner's open WebSocket connections
(``payments.live.notify``)."""

from payments.core.observability import lambda_handler_for
from payments.live.notify import notify

lambda_handler = lambda_handler_for(notify)
