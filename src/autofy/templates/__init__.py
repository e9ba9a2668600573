"""Workflow templates: browse them and instantiate one into a draft workflow."""
