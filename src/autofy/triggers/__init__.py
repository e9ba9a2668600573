"""Triggers: what starts a workflow's runs (webhook deliveries, schedules, new email or messages)."""
