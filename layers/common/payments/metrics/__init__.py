"""The numbers: daily aggregates per currency, kept current from the domain events, and read in one Query.

- ``tally``: pure functions from a domain event to what it adds (which counters of which currency and UTC day, and
  a subscription's part in the levels: active or not, its monthly amount).
- ``aggregate``: ``MetricsAggregatorFunction``'s flow: one transaction per event holding its ``eventId``'s claim and
  its increments, on a shard of the day chosen by a hash of the ``eventId``.
- ``report``: ``GET /admin/metrics``: the request's dates and currency checked, one Query, the shards summed.

README "The numbers" defines every number and says how far the design scales.
"""
