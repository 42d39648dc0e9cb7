"""Deprecated alias of :mod:`common.atomic`, kept for one release: import from there."""

from common.deprecation import moved

__getattr__ = moved("supervised.atomic", "common.atomic")
