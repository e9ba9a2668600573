"""Operator tools: what `autofy users|workflows|executions|status|prune` do, across tenants."""
