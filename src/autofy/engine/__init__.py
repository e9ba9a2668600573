"""The execution engine: runs workflows durably, step by step (docs/engine.md)."""
