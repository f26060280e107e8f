"""Cyclic garbage collection kept out of large parses.

A parse of a big JSON document (a database of many integrations, a long stretch of the usage
log) makes millions of small containers. With the collector on, the allocation bursts trigger
collections that walk the growing young heap again and again during the parse, and afterwards
every full collection walks the parsed document once more, for as long as it lives. What a parse
makes holds no cycles, so nothing is lost by not collecting during it; a large document is then
frozen (`gc.freeze`: kept out of later collections, still freed by reference counting).

Before freezing, what the previous freeze held is unfrozen and collected once, so objects that
have since died in cycles are freed: freezing never keeps garbage beyond the next large parse.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

FREEZE_BYTES = 4 << 20  # a parse at least this large is frozen afterwards

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_freeze = False


@contextlib.contextmanager
def paused_gc(size: int = 0) -> Iterator[None]:
    """No automatic collection inside the block (nestable, from any thread): the collector is on
    again, if it was on, when the last block open in the process ends; a block that parsed
    `size` >= FREEZE_BYTES bytes has what survives it frozen then."""
    global _depth, _was_enabled, _freeze
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _freeze = _freeze or size >= FREEZE_BYTES
            _depth -= 1
            if _depth == 0:
                if _freeze:
                    gc.unfreeze()
                    gc.collect()
                    gc.freeze()
                    _freeze = False
                if _was_enabled:
                    gc.enable()
