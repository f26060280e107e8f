"""A big parse runs without garbage collections and leaves the collector as it found it."""

from __future__ import annotations

import gc
from pathlib import Path

import orjson

from core.gcpause import FREEZE_BYTES
from core.storage import AtomicJSONStorage


def test_a_big_parse_runs_no_collection_and_freezes_what_it_built(tmp_path: Path) -> None:
    doc = {"t": {f"{i:08x}": {"id": i, "tags": [str(i)], "x": {"y": i}} for i in range(80_000)}}
    raw = orjson.dumps({**doc, "_meta": {"1": {"schema": 1}}})
    assert len(raw) > FREEZE_BYTES
    path = tmp_path / "big.json"
    path.write_bytes(raw)
    seen: list[str] = []

    def note(phase: str, info: dict) -> None:
        seen.append(phase)

    def read() -> dict:
        store = AtomicJSONStorage(path, create=False)
        try:
            return {k: v for k, v in store.snapshot().items() if k != "_meta"}
        finally:
            store.close()

    gc.callbacks.append(note)
    try:
        gc.unfreeze()  # what earlier tests froze: the count below is this parse's
        got = read()
        assert got == doc
        assert seen.count("start") <= 1  # 240,000 containers built; at most the one collection
        # what the parse built is frozen while it lives
        assert gc.isenabled() and gc.get_freeze_count() >= 240_000
        del got
        gc.disable()
        try:  # a collector someone turned off stays off
            assert read() == doc and not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
