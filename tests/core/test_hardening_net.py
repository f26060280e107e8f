"""Hardening of the probes' network side (items 4, 7 and 8 of the hardening issue), over real
sockets to a server on 127.0.0.1:

* probes share no cookies: a Set-Cookie from one integration's endpoint is never sent again;
* every probe ends with a result: a probe that raises inside byok fails with a reason while the
  others go on; a key that cannot be sent as an HTTP header is refused on input, and one that
  arrives through `env:` or `file:` is a credential_error; a `file:` credential is read with a
  size cap and a timeout, and never from a FIFO or a device;
* an answer is read up to a cap, counted after decompression: an endless body and a gzip bomb
  stop there, quickly and in bounded memory.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.providers import key_for

from core import CredentialError, HealthState, IntegrationsFacade, ValidationError
from core.integrations import credentials
from core.providers import probes as p

T = "t1"
KEY_A = "sk-integration-a-000000000000000000"
KEY_B = "sk-integration-b-111111111111111111"
MIB = 1 << 20


def _gzip_bomb(decoded_mib: int) -> bytes:
    """One gzip member of `decoded_mib` MiB of zeros, about 1 KiB per MiB. Built from one
    full-flushed block repeated (a full flush byte-aligns and resets the window, so every block of
    the same input compresses to the same bytes), with a correct CRC and size trailer."""
    chunk = bytes(MIB)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) == block
    crc = 0
    for _ in range(decoded_mib):
        crc = zlib.crc32(chunk, crc)
    size = (decoded_mib * MIB) & 0xFFFFFFFF
    return first + block * (decoded_mib - 1) + b"\x03\x00" + struct.pack("<II", crc, size)


BOMB_MIB = 2048  # 2 GiB once inflated, ~2 MB on the wire
BOMB = _gzip_bomb(BOMB_MIB)


class Handler(BaseHTTPRequestHandler):
    """Answers by the first path segment: cookie (sets one), endless, bomb; records headers."""

    seen: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        what = self.path.split("/")[1]
        if what == "cookie":
            body = b'{"object": "list", "data": [{"id": "gpt-4o"}]}'
            self.send_response(200)
            self.send_header("set-cookie", "sid=from-" + self.path.split("/")[2] + "; Path=/")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif what == "endless":  # no length, no end: only the client can stop it
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.close_connection = True
            piece = b"[" + b" " * (64 * 1024 - 1)
            try:
                while True:
                    self.wfile.write(piece)
                    time.sleep(0.001)  # ~64 MB/s: fast, and the test machine survives
            except OSError:
                return
        elif what == "bomb":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(BOMB)))
            self.end_headers()
            try:
                self.wfile.write(BOMB)
            except OSError:
                return
        elif what == "corrupt":  # says gzip, is not
            body = b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10
            self.send_response(200)
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    seen: list[tuple[str, dict[str, str]]] = []
    handler = type("Recording", (Handler,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


async def _add(facade: IntegrationsFacade, base_url: str, credential: str) -> str:
    detail = await facade.create_integration(
        T,
        name=f"n-{os.urandom(4).hex()}",
        provider_type="openai",
        credential=credential,
        config={"base_url": base_url},
    )
    await facade.enable_integration(T, detail.id)
    return detail.id


# -- item 4: cookies -----------------------------------------------------------------------------


async def test_a_cookie_set_for_one_integration_is_never_sent_with_another_probe(
    facade: IntegrationsFacade, server: tuple[str, list[tuple[str, dict[str, str]]]]
) -> None:
    base, seen = server
    a = await _add(facade, f"{base}/cookie/a", KEY_A)
    b = await _add(facade, f"{base}/cookie/b", KEY_B)
    assert (await facade.test_credentials(T, a)).health_state is HealthState.HEALTHY
    assert (await facade.test_credentials(T, b)).health_state is HealthState.HEALTHY
    assert (await facade.test_credentials(T, a)).health_state is HealthState.HEALTHY
    results = [r async for r in facade.check_many(T)]  # the concurrent path too
    assert len(results) == 2
    assert len(seen) == 5 and all(path.endswith("/models") for path, _ in seen)
    assert all("cookie" not in headers for _, headers in seen), seen


# -- item 7: every probe ends --------------------------------------------------------------------


async def _all_results(facade: IntegrationsFacade, within_s: float) -> dict[str, Any]:
    async def gather() -> dict[str, Any]:
        return {r.integration_id: r async for r in facade.check_many(T)}

    return await asyncio.wait_for(gather(), within_s)


@pytest.mark.parametrize("error", [MemoryError, UnicodeEncodeError, RuntimeError, KeyError])
async def test_a_probe_that_raises_fails_with_a_reason_and_the_others_complete(
    facade: IntegrationsFacade,
    fake_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    error: type[BaseException],
) -> None:
    fine = [await _add(facade, fake_server.base_url_for("openai"), key_for("ok")) for _ in range(2)]
    doomed_key = key_for("ok")
    doomed = await _add(facade, fake_server.base_url_for("openai"), doomed_key)
    real = p.read_answer
    boom = (
        error("ascii", "é", 0, 1, "ordinal not in range(128)")
        if error is UnicodeEncodeError
        else error("inside the probe")
    )

    def read_answer(kind: Any, status: int, headers: Any, body: bytes, secrets: Any = ()) -> Any:
        if doomed_key in secrets:
            raise boom
        return real(kind, status, headers, body, secrets)

    monkeypatch.setattr(p, "read_answer", read_answer)
    results = await _all_results(facade, 15)
    assert set(results) == {*fine, doomed}
    assert all(results[i].health_state is HealthState.HEALTHY for i in fine)
    failed = results[doomed]
    assert failed.health_state is HealthState.FAILING and failed.reason == p.PROBE_ERROR
    assert error.__name__ in failed.message
    assert doomed_key not in failed.message
    stored = await facade.get_health_status(T, doomed)
    assert stored.health_reason == p.PROBE_ERROR  # stored like any other result
    one = await asyncio.wait_for(facade.test_credentials(T, doomed), 15)
    assert one is not None and one.reason == p.PROBE_ERROR


@pytest.mark.parametrize(
    "key",
    ["sk-clé-000000000000000000", "sk-\u0430bc-00000000000000000000", "sk-日本-0000000000000"],
)
async def test_a_key_that_cannot_be_a_header_is_refused_on_input(
    facade: IntegrationsFacade, key: str
) -> None:
    with pytest.raises(ValidationError) as bad:
        await facade.create_integration(T, name="x", provider_type="openai", credential=key)
    assert "credential" in bad.value.errors
    assert key not in str(bad.value) and "ASCII" in str(bad.value)
    d = await facade.create_integration(
        T, name="y", provider_type="openai", credential="sk-fine-0000000000000000"
    )
    with pytest.raises(ValidationError):
        await facade.update_integration(T, d.id, credential=key)


@pytest.mark.parametrize(
    "value", ["sk-clé-000000000000000000", "sk-a\r\nX-Injected: 1", "sk-\x1b[2J0"]
)
async def test_an_env_key_that_cannot_be_a_header_is_a_credential_error_not_a_hang(
    facade: IntegrationsFacade, fake_server: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HARDENING_KEY", value)
    bad = await _add(facade, fake_server.base_url_for("openai"), "env:HARDENING_KEY")
    good = await _add(facade, fake_server.base_url_for("openai"), key_for("ok"))
    results = await _all_results(facade, 15)
    assert results[good].health_state is HealthState.HEALTHY
    r = results[bad]
    assert r.health_state is HealthState.FAILING and r.reason == p.CREDENTIAL_ERROR
    assert "HARDENING_KEY" in r.message and "HTTP header" in r.message
    assert value not in r.message and "clé" not in r.message
    assert not [q for q in fake_server.requests if "HARDENING" in str(q)]


def _resolve_file(facade: IntegrationsFacade, path: Path) -> str | None:
    repo = facade.context.repo
    form = {"source": "file", "ref": str(path), "hint": f"file:{path}"}
    return credentials.resolve(form, repo.vault, T, "i1", db_path=repo.store.path)


async def test_a_fifo_credential_is_refused_at_once(
    facade: IntegrationsFacade, tmp_path: Path
) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    try:
        started = time.monotonic()
        with pytest.raises(CredentialError, match="not a regular file"):
            await asyncio.wait_for(asyncio.to_thread(_resolve_file, facade, fifo), 10)
        assert time.monotonic() - started < 2
    finally:  # before the fix the reader blocks in open(): a writer lets it go
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if _has_reader(fifo) else None
        if fd is not None:
            os.close(fd)


def _has_reader(fifo: Path) -> bool:
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # ENXIO: nobody has it open for reading
        return False
    return True


def test_a_fifo_or_device_as_the_master_key_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "master.key"
    os.mkfifo(fifo, 0o600)
    for path in (fifo, Path("/dev/zero")):
        vault = credentials.Vault(key_path=path, environ={})
        started = time.monotonic()
        with pytest.raises(CredentialError, match="not a regular file"):
            vault.open({"v": 1, "nonce": "", "ct": ""}, T, "i1")
        assert time.monotonic() - started < 2


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
async def test_a_device_credential_is_refused(facade: IntegrationsFacade, device: str) -> None:
    with pytest.raises(CredentialError, match="not a regular file"):
        _resolve_file(facade, Path(device))


async def test_a_huge_credential_file_is_refused_without_reading_it_all(
    facade: IntegrationsFacade, tmp_path: Path
) -> None:
    big = tmp_path / "big.key"
    with big.open("wb") as fh:
        fh.truncate(512 * MIB)  # sparse: costs no disk
    started = time.monotonic()
    with pytest.raises(CredentialError, match="larger than"):
        _resolve_file(facade, big)
    assert time.monotonic() - started < 1


async def test_a_credential_file_that_does_not_answer_times_out(
    facade: IntegrationsFacade, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular file on a hung network or FUSE file system: the read gives up on time."""
    from core import smallfile

    key = tmp_path / "slow.key"
    key.write_text("sk-slow-file-00000000000000000\n")
    release = threading.Event()
    real_read = smallfile._read

    def hung_read(path: str, limit: int, private: bool) -> bytes:  # open/fstat/read that hang
        release.wait(30)
        return real_read(path, limit, private)

    monkeypatch.setattr(smallfile, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(smallfile, "_read", hung_read)
    try:
        started = time.monotonic()
        with pytest.raises(CredentialError, match="did not answer within"):
            _resolve_file(facade, key)
        assert time.monotonic() - started < 2
    finally:
        release.set()


async def test_many_hung_credential_files_share_one_timeout(
    facade: IntegrationsFacade,
    fake_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core import smallfile

    release = threading.Event()
    real_read = smallfile._read

    def hung_read(path: str, limit: int, private: bool) -> bytes:
        if Path(path).name.startswith("hung"):
            release.wait(30)
        return real_read(path, limit, private)

    monkeypatch.setattr(smallfile, "TIMEOUT_S", 2.0)
    monkeypatch.setattr(smallfile, "_read", hung_read)
    hung = []
    for n in range(5):
        (tmp_path / f"hung{n}.key").write_text(key_for("ok"))
        hung.append(
            await _add(facade, fake_server.base_url_for("openai"), f"file:{tmp_path}/hung{n}.key")
        )
    (tmp_path / "fine.key").write_text(key_for("ok"))
    fine = await _add(facade, fake_server.base_url_for("openai"), f"file:{tmp_path}/fine.key")
    try:
        started = time.monotonic()
        results = await _all_results(facade, 30)
        took = time.monotonic() - started
    finally:
        release.set()
    assert took < 6, took  # one 2 s timeout in all, not 5 x 2 s
    assert results[fine].health_state is HealthState.HEALTHY
    assert all(results[i].reason == p.CREDENTIAL_ERROR for i in hung)
    assert all("did not answer within" in results[i].message for i in hung)


# -- item 8: answers have a size limit -----------------------------------------------------------


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _probe_watching_rss(facade: IntegrationsFacade, iid: str) -> tuple[Any, float, float]:
    """The probe's result, its wall time and the peak RSS growth while it ran."""
    base = _rss_mib()
    peak = [base]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(facade.test_credentials(T, iid), 30)
    finally:
        stop.set()
        watcher.join()
    return result, time.monotonic() - started, peak[0] - base


@pytest.fixture
async def quick(open_facade: Any) -> AsyncIterator[IntegrationsFacade]:
    yield open_facade(probe_timeout_s=20.0, durable=False)


async def test_an_endless_answer_stops_at_the_cap(
    quick: IntegrationsFacade, server: tuple[str, list[tuple[str, dict[str, str]]]]
) -> None:
    iid = await _add(quick, f"{server[0]}/endless/x", KEY_A)
    result, took, grew = await _probe_watching_rss(quick, iid)
    assert result.health_state is HealthState.FAILING and result.reason == p.TOO_LARGE
    assert "MiB" in result.message and KEY_A not in result.message
    assert took < 8, took  # the cap, not the 20 s deadline, ended it (most is TLS setup)
    assert grew < 60, grew


async def test_a_gzip_bomb_stops_at_the_cap(
    quick: IntegrationsFacade, server: tuple[str, list[tuple[str, dict[str, str]]]]
) -> None:
    assert len(BOMB) < 4 * MIB
    iid = await _add(quick, f"{server[0]}/bomb/x", KEY_A)
    result, took, grew = await _probe_watching_rss(quick, iid)
    assert result.health_state is HealthState.FAILING and result.reason == p.TOO_LARGE
    assert "decompressed" in result.message
    assert took < 8, took
    assert grew < 60, grew


async def test_a_body_that_does_not_decompress_is_a_bad_answer(
    quick: IntegrationsFacade, server: tuple[str, list[tuple[str, dict[str, str]]]]
) -> None:
    iid = await _add(quick, f"{server[0]}/corrupt/x", KEY_A)
    result = await asyncio.wait_for(quick.test_credentials(T, iid), 15)
    assert result is not None
    assert (result.health_state, result.reason) == (HealthState.DEGRADED, p.BAD_ANSWER)
    assert "does not decompress" in result.message


def test_the_bounded_decoder_matches_zlib_below_the_cap() -> None:
    from core.providers.transport import AnswerTooLarge, BoundedDecoder

    data = b'{"data": [' + b'{"id": "m"},' * 5000 + b'{"id": "z"}]}'
    for encoding, packed in [
        ("gzip", zlib.compress(data, wbits=31)),
        ("deflate", zlib.compress(data)),
        ("deflate", zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send
        ("identity", data),
        ("gzip, identity", zlib.compress(data, wbits=31)),
    ]:
        decoder = BoundedDecoder(encoding, len(data))
        out = b"".join(decoder.decode(packed[i : i + 333]) for i in range(0, len(packed), 333))
        assert out + decoder.flush() == data, encoding
        with pytest.raises(AnswerTooLarge):
            small = BoundedDecoder(encoding, len(data) - 1)
            small.decode(packed)
            small.flush()


# -- the same class elsewhere: a usage import reads lines of bounded length ---------------------


async def test_a_usage_file_without_newlines_is_read_in_bounded_memory(
    facade: IntegrationsFacade, tmp_path: Path
) -> None:
    """`byok usage import /dev/zero`, or a 64 MiB line: the import ends, the line reported too
    long, and memory does not grow by the line's size."""
    d = await facade.create_integration(T, name="u", provider_type="ollama")
    good = b'{"integration": "u", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 2}}'
    path = tmp_path / "usage.jsonl"
    with path.open("wb") as fh:
        fh.write(good + b"\n")
        fh.truncate(64 * MIB + len(good) + 1)  # then 64 MiB of NUL bytes, no newline
    with path.open("ab") as fh:
        fh.write(b"\n" + good + b"\n")
    base = _rss_mib()
    report = await facade.import_usage_jsonl(T, str(path))
    assert _rss_mib() - base < 40
    assert (report.lines, report.imported, report.error_count) == (3, 2, 1)
    assert report.errors[0].line == 2 and "longer than" in report.errors[0].message
    assert d.id
