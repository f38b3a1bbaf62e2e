"""Domain events out: every committed change of an order, payment, refund or subscription, published on the
``PaymentsEventBus`` for the app team's own functions (and the live status of ``payments.live``).

- ``mapping``: pure functions, one per table, from a change (old image, new image) to zero or more
  ``DetailType``s, and ``SOURCES``, the tables whose changes are published (one entry per table: adding a table
  is one mapping function and one entry).
- ``publisher``: ``EventPublisherFunction``'s flow: a batch of DynamoDB Stream records -> events (each with its
  stable ``eventId`` and the order as the HTTP API shows it) -> ``PutEvents`` in batches of up to 10, retrying only
  the failed entries, reporting each record that still failed (``batchItemFailures``).
- ``consumer``: what a consumer function of the app team stands on: the event as a typed view, once per
  ``eventId`` (``domain_event_handler``).
"""
