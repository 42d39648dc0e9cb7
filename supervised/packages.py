"""Deprecated alias of :mod:`common.packages`, kept for one release: import from there."""

from common.deprecation import moved

__getattr__ = moved("supervised.packages", "common.packages")
