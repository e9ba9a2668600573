"""Gmail actions, one per module."""
