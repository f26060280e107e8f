"""Cyclic garbage collection held off during large parses.

A parse of a big JSON document (a database of many integrations, a long stretch of the usage
log) makes millions of small containers; each allocation burst triggers collections that walk
the whole young heap again and again, ~40% of such a parse. What a parse makes holds no cycles,
so nothing is lost by collecting after it instead of during it.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic collection inside the block (nestable, from any thread): the collector is on
    again, if it was on, when the last block open in the process ends."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
