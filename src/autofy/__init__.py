"""Autofy: self-hostable workflow automation on PostgreSQL."""

__version__ = "0.1.0"
