"""Deprecated alias of :mod:`common.devices`, kept for one release: import from there."""

from common.deprecation import moved

__getattr__ = moved("supervised.devices", "common.devices")
