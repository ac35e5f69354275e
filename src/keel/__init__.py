"""Keel: a safety net for portfolio careers."""

__version__ = "0.1.0"
