"""Execution and audit-log retention: history must not grow without bound."""
