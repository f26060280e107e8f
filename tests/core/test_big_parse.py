"""A big parse runs without garbage collections and leaves the collector as it found it."""

from __future__ import annotations

import gc

import orjson

from core.storage import BIG_PARSE, load_json


def test_a_big_parse_runs_no_collection_and_freezes_what_it_built() -> None:
    doc = {"t": {f"{i:08x}": {"id": i, "tags": [str(i)], "x": {"y": i}} for i in range(30_000)}}
    raw = orjson.dumps(doc)
    assert len(raw) > BIG_PARSE
    seen: list[str] = []

    def note(phase: str, info: dict) -> None:
        seen.append(phase)

    gc.callbacks.append(note)
    try:
        frozen = gc.get_freeze_count()
        assert load_json(raw) == doc
        assert seen == []  # 90,000 containers built, and not one collection
        assert gc.isenabled() and gc.get_freeze_count() > frozen
        gc.disable()
        try:  # a collector someone turned off stays off
            assert load_json(raw) == doc and not gc.isenabled()
        finally:
            gc.enable()
        assert load_json(b'{"small": []}') == {"small": []}
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
