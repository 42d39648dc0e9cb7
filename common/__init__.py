"""The base package: what every other package of rlcourse shares, and nothing of theirs.

:mod:`common.atomic` (the one way anything writes a file or a directory), :mod:`common.devices`
(where torch models run), :mod:`common.parameters` (flat parameters, flushed denormals),
:mod:`common.figures` (saving a matplotlib figure), :mod:`common.images` (the offline image set:
bundled pictures split by image, a user's folder), :mod:`common.packages` (optional packages
from the installed ones only). It imports none of ``rlcourse``, ``agents``, ``envs``,
``supervised``; only :mod:`common.parameters` imports torch, so a bandit comparison never
pays for it.
"""
