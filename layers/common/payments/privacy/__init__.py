"""Privacy requests: export and erasure of a user's data (``api``)."""
