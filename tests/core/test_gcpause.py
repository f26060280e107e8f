"""paused_gc: no automatic collection inside (nested, across threads), the collector's state
restored after the last block, and a large parse frozen without keeping garbage frozen."""

from __future__ import annotations

import gc
import threading
import weakref

from core.gcpause import FREEZE_BYTES, paused_gc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_nested_blocks_restore_the_collector_when_the_last_one_ends() -> None:
    assert gc.isenabled()
    inner_started, outer_may_end = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inner_started.set()
            outer_may_end.wait(5)

    with paused_gc():
        assert not gc.isenabled()
        t = threading.Thread(target=other)
        t.start()
        assert inner_started.wait(5)
    assert not gc.isenabled()  # the other thread's block is still open
    outer_may_end.set()
    t.join(5)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_large_parse_is_frozen_and_what_died_since_is_collected_at_the_next() -> None:
    try:
        node = _Node()
        ref = weakref.ref(node)
        with paused_gc(FREEZE_BYTES):
            pass
        assert gc.get_freeze_count() > 0 and ref() is not None
        del node  # dies in a cycle while frozen: the collector does not see it...
        gc.collect()
        assert ref() is not None
        with paused_gc(FREEZE_BYTES):  # ...until the next large parse unfreezes and collects
            pass
        assert ref() is None
        with paused_gc(FREEZE_BYTES - 1):  # a small parse changes nothing
            pass
        assert gc.isenabled()
    finally:
        gc.unfreeze()
