"""LiveConnectFunction: the WebSocket API's $connect, $disconnect, ping and $default routes
(``payments.live.connections``)."""

from payments.core.observability import lambda_handler_for
from payments.live.connections import route

lambda_handler = lambda_handler_for(route)
