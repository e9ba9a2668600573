"""Credits per period: the allowance, its reservations by runs and turns, grants, and usage."""
