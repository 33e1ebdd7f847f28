"""Serving-side model lifecycle: load the published model, hot-swap to new versions."""
