"""Helpers for testing code that uses satlearn (and satlearn's own tests)."""

from satlearn.testing.http import RangeHTTPServer

__all__ = ["RangeHTTPServer"]
