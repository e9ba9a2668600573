"""Executions, read side: history, one run with its step results, and the dashboard."""
