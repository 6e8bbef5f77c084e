"""Helpers for testing code that uses satlearn (and satlearn's own tests)."""

from satlearn.testing.http import RangeHTTPServer
from satlearn.testing.process import free_port, running_server, start_server, stop_process

__all__ = ["RangeHTTPServer", "free_port", "running_server", "start_server", "stop_process"]
