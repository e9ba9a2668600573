"""Workflows and their steps: create, edit, reorder, validate, activate, export and import."""
