"""Helpers for the SSE tests: an event-stream parser and served app modules."""
