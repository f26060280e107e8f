"""Provider health: live probes, the health log, checks of many integrations at once.

One shared `ProbeClient` (core.providers.probehttp, on aiohttp: created lazily on the running
loop, closed by `aclose`) with a bounded connection pool; a semaphore bounds concurrent probes;
every request runs under `asyncio.timeout`, a real overall deadline, since a client's own
timeouts are per phase (a server that trickles bytes would never trip them). The
provider-specific parts live in `core.providers.probes`.

Its options (probe_timeout_s, probe_connect_timeout_s, slow_threshold_ms, probe_concurrency,
probe_trust_env, health_batch_window_s, health_log_retention) are declared in `core.options`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core import validation as v
from core.context import CoreContext
from core.enums import HealthState, IntegrationStatus, ProviderType
from core.errors import CredentialError
from core.health.log import HealthLog
from core.health.models_seen import ModelLists
from core.integrations.credentials import FILE_LIMIT, file_refs
from core.integrations.redaction import redact, scrub_value
from core.integrations.repository import probe_basis
from core.models import HealthCheckResult
from core.providers import probes as p
from core.smallfile import reading_ahead
from core.timeutil import from_iso, seconds_before, to_iso

if TYPE_CHECKING:  # aiohttp costs ~100 ms to import: loaded by the first probe, not at start
    from core.providers.probehttp import ProbeClient

Doc = Mapping[str, Any]


def _host(url: str) -> str:
    """The host of a probe URL, for messages (parsed only when one is needed)."""
    return urlsplit(url).hostname or url


class HealthService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self.options = opts = ctx.options
        self.log = HealthLog(
            ctx.side_path("health"), retention=opts.health_log_retention, durable=ctx.store.durable
        )
        self.models = ModelLists(ctx.side_path("models"), durable=ctx.store.durable)
        self._client: ProbeClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self._seq = itertools.count(int(time.time() * 1000) * 1000)

    # -- the client -----------------------------------------------------------------------------

    async def _http(self) -> tuple[ProbeClient, asyncio.Semaphore]:
        """The shared client (pool and bound: `probe_concurrency`) and its semaphore."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            # A client belongs to one loop: a new loop (asyncio.run per CLI call) gets its own,
            # and the last one's is closed here once its loop has ended (nothing to wait for
            # then; left alone, aiohttp would warn of an unclosed session at exit).
            old = self._client
            if old is not None and self._loop is not None and self._loop.is_closed():
                await old.aclose()
            self._client = self._new_client(self.options.probe_concurrency)
            self._sem = asyncio.Semaphore(self.options.probe_concurrency)
            self._loop = loop
        assert self._sem is not None
        return self._client, self._sem

    def _new_client(self, pool: int) -> ProbeClient:
        from core.providers.probehttp import ProbeClient

        opts = self.options
        return ProbeClient(
            pool,
            connect_s=min(opts.probe_connect_timeout_s, opts.probe_timeout_s),
            trust_env=opts.probe_trust_env,
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(RuntimeError):  # its loop is gone, and its sockets with it
                await client.aclose()
        self.log.close()
        self.models.close()

    # -- one probe ------------------------------------------------------------------------------

    async def test_credentials(
        self, tenant_id: str, integration_id: str, *, deep: bool = False
    ) -> HealthCheckResult | None:
        """Probe now, store the result on the integration and append it to the health log."""
        doc = await asyncio.to_thread(self.ctx.repo.get, tenant_id, integration_id)
        if doc is None:
            return None
        result, unusable = await self._probe_doc(doc, deep=deep)
        await asyncio.to_thread(self._store, tenant_id, [(doc, result, unusable, deep)])
        return result

    def _secrets(self, docs: list[Doc]) -> list[str | Exception | None]:
        """Resolve many credentials in one worker-thread hop (decrypts, env and file reads). An
        error is kept in the place of its secret: that probe fails, the others go on."""
        out: list[str | Exception | None] = []
        paths = file_refs(doc.get("credential") for doc in docs)
        with reading_ahead(paths, FILE_LIMIT):  # files on a hung mount: one timeout in all
            for doc in docs:
                try:
                    out.append(self.ctx.repo.secret(doc))
                except Exception as exc:
                    out.append(exc)
        return out

    async def _probe_doc(
        self,
        doc: Doc,
        *,
        deep: bool,
        resolved: str | Exception | bool | None = False,
        http: tuple[ProbeClient, asyncio.Semaphore] | None = None,
    ) -> tuple[HealthCheckResult, bool]:
        """Run the probe of one integration; returns the result and whether the key is unusable.

        `resolved` is the credential already resolved by check_many (False: resolve it here);
        `http` the client and bound to probe with (None: the shared ones).
        Whatever the probe raises (a bug, MemoryError, an error of the client nobody expected)
        ends it as a failing result with the reason `probe_error`: a probe always ends with a
        result, so check_many never waits for one that died. Cancellation still propagates.
        """
        try:
            return await self._probe_unguarded(doc, deep=deep, resolved=resolved, http=http)
        except Exception as exc:
            return self._result(
                doc["id"],
                HealthState.FAILING,
                p.PROBE_ERROR,
                f"the probe failed inside byok ({type(exc).__name__}); "
                "nothing is known about the key: please report this",
            ), False

    async def _probe_unguarded(
        self,
        doc: Doc,
        *,
        deep: bool,
        resolved: str | Exception | bool | None,
        http: tuple[ProbeClient, asyncio.Semaphore] | None,
    ) -> tuple[HealthCheckResult, bool]:
        if resolved is False:
            resolved = (await asyncio.to_thread(self._secrets, [doc]))[0]
        if isinstance(resolved, CredentialError):
            # The message names the variable or file, never the secret.
            why = f"credential unusable: {resolved}"
            failed = self._result(doc["id"], HealthState.FAILING, p.CREDENTIAL_ERROR, why)
            return scrubbed(failed, ()), True
        if isinstance(resolved, Exception):
            raise resolved  # an unexpected one: the guard in _probe_doc makes it a result
        secret = resolved if isinstance(resolved, str) else None
        secrets = (secret,) if secret else ()
        result = await self._probe(doc, secret, secrets, deep=deep, http=http)
        return scrubbed(result, secrets), False

    async def _probe(
        self,
        doc: Doc,
        secret: str | None,
        secrets: tuple[str, ...],
        *,
        deep: bool,
        http: tuple[ProbeClient, asyncio.Semaphore] | None,
    ) -> HealthCheckResult:
        """The probe itself (and the deep one), its result not yet scrubbed."""
        kind = ProviderType(doc["provider_type"])
        iid = doc["id"]
        config: Mapping[str, Any] = doc.get("config") or {}
        try:
            request = p.build_probe(kind, config, secret)
        except ValueError as exc:
            return self._result(iid, HealthState.FAILING, p.NOT_FOUND, str(exc))
        client, sem = http or await self._http()
        async with sem:
            answer = await self._send(client, request, secrets)
            if isinstance(answer, p.Verdict):  # no HTTP answer: timeout or unreachable
                return self._result(iid, answer.state, answer.reason, answer.message)
            status, headers, body, latency = answer
            verdict = p.read_answer(kind, status, headers, body, secrets)
            model = doc.get("default_model")
            lookup = p.build_model_lookup(kind, config, secret, model, verdict)
            if lookup is not None:  # an alias the list does not hold: ask the provider
                found = await self._send(client, lookup, secrets)
                if not isinstance(found, p.Verdict):
                    p.read_model_lookup(verdict, model, found[0], found[2])
            result = self._judge(doc, kind, verdict, status, latency)
            if deep and result.health_state is not HealthState.FAILING:
                result = await self._deep(client, doc, kind, config, secret, secrets, result)
        return result

    async def _send(
        self, client: ProbeClient, request: p.ProbeRequest, secrets: tuple[str, ...]
    ) -> tuple[int, Mapping[str, str], bytes, int] | p.Verdict:
        from core.providers.probehttp import Unreachable
        from core.providers.transport import AnswerTooLarge, Undecodable

        deadline = self.options.probe_timeout_s
        try:
            async with asyncio.timeout(deadline):
                answer = await client.send(
                    request.method,
                    request.url,
                    request.headers,
                    request.json,
                    p.MAX_ANSWER_BYTES,
                )
        except AnswerTooLarge as exc:
            what = "decompressed " if exc.decoded else ""
            return p.Verdict(
                HealthState.FAILING,
                p.TOO_LARGE,
                f"{_host(request.url)} answered {exc.status} with more than "
                f"{exc.limit / 2**20:g} MiB {what}(no probe answer is that large): byok stopped "
                "reading there",
            )
        except Undecodable as exc:
            return p.Verdict(
                HealthState.DEGRADED,
                p.BAD_ANSWER,
                f"{_host(request.url)} answered {exc.status} with a body that does not "
                f"decompress as its Content-Encoding ({redact(exc.encoding, secrets, 40)}) says",
            )
        except TimeoutError:
            return p.Verdict(
                HealthState.FAILING,
                p.TIMEOUT,
                f"no answer from {_host(request.url)} within {deadline:g} s",
            )
        except Unreachable as exc:
            why = redact(str(exc), secrets, 160)
            return p.Verdict(
                HealthState.FAILING, p.UNREACHABLE, f"cannot reach {_host(request.url)}: {why}"
            )
        # The provider's answer time: from the request going out to its response's headers read;
        # not the wait for a pooled connection, the connect, nor this process's own CPU before.
        return answer.status, answer.headers, answer.body, answer.latency_ms

    def _judge(
        self, doc: Doc, kind: ProviderType, verdict: p.Verdict, status: int, latency: int
    ) -> HealthCheckResult:
        state, reason, message = verdict.state, verdict.reason, verdict.message
        model = doc.get("default_model")
        if state is HealthState.HEALTHY and model:
            offered = p.model_offered(kind, model, verdict.models, verdict.aliases)
            if offered is False:
                state, reason = HealthState.DEGRADED, p.MODEL_UNAVAILABLE
                message = (
                    f"the key works, but the default model {model!r} is not among the "
                    f"{len(verdict.models)} models it offers"
                )
        slow_ms = self.options.slow_threshold_ms
        if state is HealthState.HEALTHY and latency > slow_ms:
            state, reason = HealthState.DEGRADED, p.SLOW
            message = f"{message}, but slow: {latency} ms (threshold {slow_ms:g} ms)"
        return self._result(
            doc["id"],
            state,
            reason,
            message,
            latency_ms=latency,
            http_status=status,
            models=verdict.models,
            retry_after_s=verdict.retry_after_s,
            provider_info=verdict.provider_info,
        )

    async def _deep(
        self,
        client: ProbeClient,
        doc: Doc,
        kind: ProviderType,
        config: Mapping[str, Any],
        secret: str | None,
        secrets: tuple[str, ...],
        plain: HealthCheckResult,
    ) -> HealthCheckResult:
        """A 1-token completion on default_model: proves inference works, reads rate limits."""
        model = doc.get("default_model")
        info = dict(plain.provider_info)
        if not model:
            info["deep"] = "skipped: no default_model to complete with"
            return plain.model_copy(update={"provider_info": info})
        request = p.build_deep(kind, config, secret, model)
        if request is None:
            info["deep"] = f"not available for {kind.value}"
            return plain.model_copy(update={"provider_info": info})
        answer = await self._send(client, request, secrets)
        if isinstance(answer, p.Verdict):
            return self._result(
                doc["id"], answer.state, answer.reason, f"deep probe: {answer.message}"
            )
        status, headers, body, latency = answer
        verdict = p.deep_verdict(kind, status, headers, body, secrets)
        limits = p.rate_limits(headers)
        info["deep"] = f"{model}: HTTP {status} in {latency} ms"
        if verdict.state is HealthState.HEALTHY:
            return plain.model_copy(
                update={"rate_limits": limits, "provider_info": info, "http_status": status}
            )
        return self._result(
            doc["id"],
            verdict.state,
            verdict.reason,
            f"deep probe on {model}: {verdict.message}",
            latency_ms=latency,
            http_status=status,
            models=plain.models,
            retry_after_s=verdict.retry_after_s,
            rate_limits=limits,
            provider_info=info,
        )

    def _result(
        self, iid: str, state: HealthState, reason: str, message: str, **extra: Any
    ) -> HealthCheckResult:
        return HealthCheckResult(
            integration_id=iid,
            health_state=state,
            reason=reason,
            message=message,
            latency_ms=extra.pop("latency_ms", None),
            checked_at=self.ctx.clock(),
            **extra,
        )

    # -- storing --------------------------------------------------------------------------------

    def _store(
        self, tenant_id: str, batch: list[tuple[Doc, HealthCheckResult, bool, bool]]
    ) -> None:
        """One commit to the integrations file and one to the health log, for a whole batch.

        Each result applies only to the credential and endpoint it tested (its basis): one that
        lands after a key rotation, an edit of the endpoint or a delete changes nothing but the
        log, which keeps every probe that ran.
        """
        outcomes, entries = [], []
        for doc, result, unusable, deep in batch:
            checked_at = to_iso(result.checked_at)
            outcomes.append(
                {
                    "integration_id": doc["id"],
                    "state": result.health_state,
                    "reason": result.reason,
                    "message": result.message,
                    "latency_ms": result.latency_ms,
                    "checked_at": checked_at,
                    "credential_unusable": unusable,
                    "basis": probe_basis(doc),
                }
            )
            entries.append(
                {
                    "tenant_id": tenant_id,
                    "integration_id": doc["id"],
                    "integration_name": doc.get("name"),
                    "provider_type": doc["provider_type"],
                    "health_state": result.health_state.value,
                    "reason": result.reason,
                    "message": result.message,
                    "latency_ms": result.latency_ms,
                    "http_status": result.http_status,
                    "checked_at": checked_at,
                    "deep": deep,
                    "seq": next(self._seq),
                }
            )
        # Two independent files: the log commit (and its fsync) runs while the database's does.
        logger = threading.Thread(target=self._append_log, args=(entries, errors := []))
        logger.start()
        try:
            applied = self.ctx.repo.apply_health_many(tenant_id, outcomes)
            found = [
                (doc["id"], r.models, r.checked_at)
                for (doc, r, _, _), stored in zip(batch, applied, strict=True)
                if stored is not None
            ]
            bases = {o["integration_id"]: o["basis"] for o in outcomes}
            self.models.record(
                tenant_id, found, keep=lambda iid: self._current(tenant_id, iid, bases[iid])
            )
        finally:
            logger.join()
        if errors:
            raise errors[0]

    def _current(self, tenant_id: str, integration_id: str, basis: str) -> bool:
        """Whether the integration still exists with the credential and endpoint probed."""
        doc = self.ctx.repo.get(tenant_id, integration_id)
        return doc is not None and probe_basis(doc) == basis

    def _append_log(self, entries: list[dict[str, Any]], errors: list[BaseException]) -> None:
        try:
            self.log.append_many(entries)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    # -- many at once ---------------------------------------------------------------------------

    async def check_many(
        self,
        tenant_id: str,
        *,
        include_disabled: bool = False,
        stale_after_s: float | None = None,
        concurrency: int | None = None,
        deep: bool = False,
        integration_ids: Iterable[str] | None = None,
    ) -> AsyncIterator[HealthCheckResult]:
        """Probe the tenant's enabled integrations (and those in error that were enabled; all with
        include_disabled), or only those not
        checked for `stale_after_s` seconds, at most `concurrency` at a time; yield each result as
        it completes. `integration_ids` names exactly which to probe, disabled ones included (as
        `test_credentials` would); ids of no integration of the tenant are skipped.

        Results are stored in batches: while one commit is being written, the next results
        gather, so 500 probes cost a handful of file rewrites, not 500.

        Closing the generator early (break, cancel) cancels the probes still running and stores
        the results that had completed. `concurrency` above `probe_concurrency` (the size of the
        shared connection pool) is honoured: this check gets a client of its own, that wide.
        """
        at_once = self.options.probe_concurrency
        if concurrency is not None:
            at_once = v.at_least_one(concurrency, "concurrency")
        if stale_after_s is not None:
            stale_after_s = v.seconds(stale_after_s, "stale_after_s")
        if integration_ids is None:
            docs = await asyncio.to_thread(self.ctx.repo.find, tenant_id)
        else:
            wanted = v.integration_ids(integration_ids)
            docs = await asyncio.to_thread(self._docs, tenant_id, wanted)
            include_disabled = True
        docs = [d for d in docs if self._wanted(d, include_disabled, stale_after_s)]
        if not docs:
            return
        wide = None  # a concurrency above the shared pool's: a client that wide for this check
        if at_once > self.options.probe_concurrency:
            wide = (self._new_client(at_once), asyncio.Semaphore(at_once))
        local = asyncio.Semaphore(at_once)
        done: asyncio.Queue[HealthCheckResult] = asyncio.Queue()
        pending: list[tuple[Doc, HealthCheckResult, bool, bool]] = []
        wake = asyncio.Event()

        resolved = await asyncio.to_thread(self._secrets, docs)

        async def one(doc: Doc, secret: str | Exception | None) -> None:
            async with local:
                result, unusable = await self._probe_doc(
                    doc, deep=deep, resolved=secret, http=wide
                )
            pending.append((doc, result, unusable, deep))
            wake.set()
            done.put_nowait(result)

        closing = False
        stop = asyncio.Event()  # set when the generator ends: the writer stops waiting

        async def writer() -> None:
            # Never cancelled mid-write: a commit in a worker thread cannot be interrupted, and
            # check_many must not return before its results are stored.
            while True:
                await wake.wait()
                if not closing:  # let results gather: a few big commits beat many small ones
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.options.health_batch_window_s):
                            await stop.wait()
                wake.clear()
                batch, pending[:] = list(pending), []
                if batch:
                    await asyncio.to_thread(self._store, tenant_id, batch)
                if closing and not pending:
                    return

        tasks = [asyncio.create_task(one(d, r)) for d, r in zip(docs, resolved, strict=True)]
        writing = asyncio.create_task(writer())
        try:
            for _ in range(len(tasks)):
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            closing = True
            stop.set()
            wake.set()
            await asyncio.shield(writing)  # stores what completed, then ends
            if wide is not None:
                await wide[0].aclose()

    def _docs(self, tenant_id: str, ids: list[str]) -> list[Doc]:
        return [doc for iid in ids if (doc := self.ctx.repo.get(tenant_id, iid)) is not None]

    def _wanted(self, doc: Doc, include_disabled: bool, stale_after_s: float | None) -> bool:
        if not include_disabled and not _in_service(doc):
            return False
        if stale_after_s is None:
            return True
        checked = from_iso(doc.get("health_checked_at"))
        return checked is None or checked <= seconds_before(self.ctx.clock(), stale_after_s)


def _in_service(doc: Doc) -> bool:
    """Enabled, or in error after being enabled: probed by default, so that a probe which has
    the credential can clear an error that another process's probe set."""
    enabled = IntegrationStatus.ENABLED.value
    status = doc["status"]
    return status == enabled or (
        status == IntegrationStatus.ERROR.value and doc.get("status_before_error") == enabled
    )


def scrubbed(result: HealthCheckResult, secrets: tuple[str, ...]) -> HealthCheckResult:
    """`result` with every string field scrubbed (core.integrations.redaction): the one boundary
    all provider text (messages, model ids, headers, ids) passes before it is stored, logged or
    returned. A model id that held a secret or a control character is no model id: dropped."""
    update: dict[str, Any] = {}
    for name in type(result).model_fields:
        value = getattr(result, name)
        clean = scrub_value(value, secrets)
        if name == "models":
            clean = [m for m, c in zip(value, clean, strict=True) if m == c]
        if clean != value:
            update[name] = clean
    return result.model_copy(update=update) if update else result
