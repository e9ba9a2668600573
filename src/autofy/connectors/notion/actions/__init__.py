"""Notion actions, one per module."""
