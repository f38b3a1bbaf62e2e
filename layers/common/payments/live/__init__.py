"""Live status for clients: the WebSocket API's authorizer (``auth``), its routes (``connections``: connect,
disconnect, ping) and the notifier that sends each domain event about an order to its owner's connections
(``notify``)."""
