"""The small shared core every capability stands on: settings, errors, money, identity, ids, clock, the state
machines, request validation, HTTP mapping, observability, and the one AWS session of a container."""
