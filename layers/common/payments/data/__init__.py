"""Data access, as a boundary: the pynamodb models, the store (binding, reads, conditional writes,
transactions) and one repository per aggregate, which alone builds that aggregate's expressions."""
