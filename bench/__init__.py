"""`make bench`: cold start, calls per operation, package sizes and warm webhook cost (see run.py)."""
