"""A module without any kolben app."""

VALUE = 1
