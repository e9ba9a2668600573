"""Telegram actions, one per module."""
