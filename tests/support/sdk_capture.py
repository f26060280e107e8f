"""Capture the requests the providers' official SDKs make, as fixtures for the fidelity tests.

A tool, not a test and not runtime code: run it with a throwaway virtualenv that has the SDKs
(never a dependency of byok):

    python3 -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install openai anthropic google-genai mistralai cohere groq together \
        ollama boto3 openrouter
    /tmp/sdkvenv/bin/python tests/support/sdk_capture.py            # every provider
    /tmp/sdkvenv-together1/bin/python tests/support/sdk_capture.py together   # another version

Each SDK call runs twice: against the capture server on 127.0.0.1 (its base URL set to the
server, with the path the SDK expects), and with its default base URL through a transport that
records the URL and answers locally (no network), which shows the SDK's own default host. The
captures are merged into `tests/core/fixtures/sdk/{provider}.json`, one entry per (sdk, version,
call), so running it in another virtualenv adds that SDK version beside the others.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `support.capture`, run as a script

from support.capture import CaptureServer, default_answer

KEY = "sdk-fidelity-test-key"  # a fixed dummy key: the fixtures hold no real secret
OUT = Path(__file__).resolve().parents[1] / "core" / "fixtures" / "sdk"
PING = [{"role": "user", "content": "ping"}]
# The model each provider's deep (and Anthropic's one-model) call names; written to the fixture.
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "azure_openai": "my-deployment",
    "google": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "cohere": "command-a-03-2025",
    "groq": "llama-3.1-8b-instant",
    "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "ollama": "llama3.2",
}

Runner = Callable[[str | None, Any], None]  # (base URL or None for the default, http client)


@dataclass(frozen=True)
class Call:
    provider: str
    dist: str  # the SDK's distribution name on PyPI
    name: str  # "probe" (byok's plain probe), "deep" (the 1-token completion), "model" (one model)
    code: str  # the SDK call, as a person would write it
    given: str  # the path after the server's address given to the SDK as its base URL
    run: Runner
    transport: str = "httpx"  # how the default URL is recorded: "httpx", "boto3" or "source"
    route: str = ""  # with transport "source": appended to the SDK's default base URL constant


def _mock_client(dist: str) -> tuple[Any, list[str]]:
    """An HTTP client that records URLs and answers locally: httpx, or httpx2 for the SDKs built
    on that fork (anthropic 2.x)."""
    needs = importlib.metadata.requires(dist) or []
    http = importlib.import_module(
        "httpx2" if any(r.startswith("httpx2") and "extra ==" not in r for r in needs) else "httpx"
    )
    urls: list[str] = []

    def handler(request: Any) -> Any:
        urls.append(str(request.url))
        status, body = default_answer(request.url.path)
        return http.Response(status, json=body)

    return http.Client(transport=http.MockTransport(handler)), urls


# -- the SDK calls ----------------------------------------------------------------------------


def _openai(base: str | None, client: Any) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=KEY, base_url=base, http_client=client, max_retries=0)


def _anthropic(base: str | None, client: Any) -> Any:
    from anthropic import Anthropic

    return Anthropic(api_key=KEY, base_url=base, http_client=client, max_retries=0)


def _groq(base: str | None, client: Any) -> Any:
    from groq import Groq

    return Groq(api_key=KEY, base_url=base, http_client=client, max_retries=0)


def _together(base: str | None, client: Any) -> Any:
    import together

    if int(importlib.metadata.version("together").split(".")[0]) < 2:
        return together.Together(api_key=KEY, base_url=base, max_retries=0)
    return together.Together(api_key=KEY, base_url=base, http_client=client, max_retries=0)


def _mistral(base: str | None, client: Any) -> Any:
    from mistralai.client import Mistral

    return Mistral(api_key=KEY, server_url=base, client=client)


def _cohere(base: str | None, client: Any, v2: bool = False) -> Any:
    import cohere
    from cohere.base_client import BaseCohere

    # cohere.Client stubs check_api_key out ("deprecated since 5.0"); BaseCohere, the generated
    # client under it, still has the API reference's route.
    kwargs: dict[str, Any] = {"httpx_client": client}
    if base is not None:
        kwargs["base_url"] = base
    if v2:
        return cohere.ClientV2(api_key=KEY, **kwargs)
    return BaseCohere(token=KEY, **kwargs)


def _google(base: str | None, client: Any) -> Any:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=base, httpx_client=client)
    return genai.Client(api_key=KEY, http_options=options)


def _keep(client: Any, call: Callable[[Any], Any]) -> Any:
    """Run `call` while `client` is referenced (genai closes its HTTP client when collected)."""
    try:
        return call(client)
    finally:
        del client


def _openrouter(base: str | None, client: Any) -> Any:
    from openrouter import OpenRouter

    return OpenRouter(api_key=KEY, server_url=base, client=client)


def _ollama(base: str | None, client: Any) -> Any:
    import ollama

    kwargs: dict[str, Any] = {}
    if client is not None:
        kwargs["transport"] = client._transport
    return ollama.Client(host=base, **kwargs)


def _boto(service: str, base: str | None) -> Any:
    import boto3

    os.environ["AWS_BEARER_TOKEN_BEDROCK"] = KEY  # Bedrock API keys: boto3 sends them as Bearer
    return boto3.client(service, region_name="us-east-1", endpoint_url=base, verify=False)


def _tls_context(workdir: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (openssl), for the capture server's TLS twin."""
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _azure(base: str | None, client: Any) -> Any:
    from openai import AzureOpenAI

    return AzureOpenAI(
        api_key=KEY,
        azure_endpoint=base or "https://RESOURCE.openai.azure.com",
        api_version="2024-10-21",
        http_client=client,
        max_retries=0,
    )


def _chat(make: Callable[[str | None, Any], Any], provider: str) -> Runner:
    """An OpenAI-style SDK's 1-token chat.completions.create."""
    return lambda b, c: make(b, c).chat.completions.create(
        model=MODELS[provider], messages=PING, max_tokens=1
    )


def _list(make: Callable[[str | None, Any], Any]) -> Runner:
    """An SDK's models.list()."""
    return lambda b, c: make(b, c).models.list()


CALLS: list[Call] = [
    Call("openai", "openai", "probe", "OpenAI(base_url=ROOT).models.list()", "/v1",
         _list(_openai)),
    Call("openai", "openai", "deep",
         "OpenAI(base_url=ROOT).chat.completions.create(model=..., messages=ping, max_tokens=1)",
         "/v1", _chat(_openai, "openai")),
    Call("anthropic", "anthropic", "probe", "Anthropic(base_url=ROOT).models.list(limit=1000)", "",
         lambda b, c: _anthropic(b, c).models.list(limit=1000)),
    Call("anthropic", "anthropic", "model",
         "Anthropic(base_url=ROOT).models.retrieve('claude-sonnet-4-5')", "",
         lambda b, c: _anthropic(b, c).models.retrieve(MODELS["anthropic"])),
    Call("anthropic", "anthropic", "deep",
         "Anthropic(base_url=ROOT).messages.create(model=..., max_tokens=1, messages=ping)", "",
         lambda b, c: _anthropic(b, c).messages.create(
             model=MODELS["anthropic"], max_tokens=1, messages=PING)),
    Call("azure_openai", "openai", "probe",
         "AzureOpenAI(azure_endpoint=ROOT, api_version='2024-10-21').models.list()", "",
         _list(_azure)),
    Call("azure_openai", "openai", "deep",
         "AzureOpenAI(azure_endpoint=ROOT, api_version='2024-10-21').chat.completions.create("
         "model='my-deployment', messages=ping, max_tokens=1)", "",
         _chat(_azure, "azure_openai")),
    Call("google", "google-genai", "probe",
         "genai.Client(http_options=HttpOptions(base_url=ROOT)).models.list("
         "config={'page_size': 1000})", "",
         lambda b, c: _keep(_google(b, c), lambda g: g.models.list(config={"page_size": 1000}))),
    Call("google", "google-genai", "deep",
         "genai.Client(...).models.generate_content(model='gemini-2.5-flash', contents='ping', "
         "config={'max_output_tokens': 1})", "",
         lambda b, c: _keep(_google(b, c), lambda g: g.models.generate_content(
             model=MODELS["google"], contents="ping", config={"max_output_tokens": 1}))),
    Call("mistral", "mistralai", "probe", "Mistral(server_url=ROOT).models.list()", "",
         _list(_mistral)),
    Call("mistral", "mistralai", "deep",
         "Mistral(server_url=ROOT).chat.complete(model=..., messages=ping, max_tokens=1)", "",
         lambda b, c: _mistral(b, c).chat.complete(
             model=MODELS["mistral"], messages=PING, max_tokens=1)),
    Call("cohere", "cohere", "probe",
         "cohere.base_client.BaseCohere(base_url=ROOT).check_api_key()", "",
         lambda b, c: _cohere(b, c).check_api_key()),
    Call("cohere", "cohere", "deep",
         "cohere.ClientV2(base_url=ROOT).chat(model=..., messages=ping, max_tokens=1)", "",
         lambda b, c: _cohere(b, c, v2=True).chat(
             model=MODELS["cohere"], messages=PING, max_tokens=1)),
    Call("groq", "groq", "probe", "Groq(base_url=ROOT).models.list()", "",
         _list(_groq)),
    Call("groq", "groq", "deep",
         "Groq(base_url=ROOT).chat.completions.create(model=..., messages=ping, max_tokens=1)",
         "", _chat(_groq, "groq")),
    Call("deepseek", "openai", "probe",
         "OpenAI(base_url=ROOT).models.list()  # DeepSeek's docs: the OpenAI SDK", "",
         lambda b, c: _openai(b or "https://api.deepseek.com", c).models.list()),
    Call("openrouter", "openrouter", "probe",
         "OpenRouter(server_url=ROOT).api_keys.get_current_key_metadata()", "/api/v1",
         lambda b, c: _openrouter(b, c).api_keys.get_current_key_metadata()),
    Call("bedrock", "boto3", "probe",
         "boto3.client('bedrock', region_name='us-east-1', endpoint_url=ROOT)"
         ".list_foundation_models()", "",
         lambda b, c: _boto("bedrock", b).list_foundation_models(), "boto3"),
    Call("bedrock", "boto3", "deep",
         "boto3.client('bedrock-runtime', region_name='us-east-1', endpoint_url=ROOT).converse("
         "modelId=..., messages=[{'role': 'user', 'content': [{'text': 'ping'}]}], "
         "inferenceConfig={'maxTokens': 1})", "",
         lambda b, c: _boto("bedrock-runtime", b).converse(
             modelId=MODELS["bedrock"],
             messages=[{"role": "user", "content": [{"text": "ping"}]}],
             inferenceConfig={"maxTokens": 1}), "boto3"),
    Call("ollama", "ollama", "probe", "ollama.Client(host=ROOT).list()", "",
         lambda b, c: _ollama(b, c).list()),
    Call("ollama", "ollama", "deep",
         "ollama.Client(host=ROOT).chat(model='llama3.2', messages=ping, "
         "options={'num_predict': 1})", "",
         lambda b, c: _ollama(b, c).chat(
             model=MODELS["ollama"], messages=PING, options={"num_predict": 1})),
]  # fmt: skip


def _together_calls() -> list[Call]:
    """Together's generations differ: 1.x and 2.x take the root with /v1, 3.x without it (and its
    models.list() lists a project's own models at /v2, so 3.x is compared on the completion)."""
    major = int(importlib.metadata.version("together").split(".")[0])
    given = "" if major >= 3 else "/v1"
    calls = [
        Call("together", "together", "deep",
             "Together(base_url=ROOT).chat.completions.create(model=..., messages=ping, "
             "max_tokens=1)", given,
             _chat(_together, "together"),
             "httpx" if major >= 2 else "source", "/chat/completions"),
    ]  # fmt: skip
    if major < 3:
        calls.insert(0, Call("together", "together", "probe",
                             "Together(base_url=ROOT).models.list()", given,
                             _list(_together),
                             "httpx" if major >= 2 else "source", "/models"))  # fmt: skip
    return calls


# -- running them -----------------------------------------------------------------------------


@contextlib.contextmanager
def _boto_default_url() -> Iterator[list[str]]:
    """Record the URL boto3 would send to (its endpoint rules), answering before the network."""
    import boto3
    from botocore.awsrequest import AWSResponse

    urls: list[str] = []

    class _Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b'{"modelSummaries": []}'

    def before_send(request: Any, **_: Any) -> AWSResponse:
        urls.append(request.url)
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, _Raw())

    original = boto3.client

    def client(*args: Any, **kwargs: Any) -> Any:
        made = original(*args, **kwargs)
        made.meta.events.register("before-send", before_send)
        return made

    boto3.client = client  # type: ignore[assignment]
    try:
        yield urls
    finally:
        boto3.client = original  # type: ignore[assignment]


def _default_url(call: Call) -> str | None:
    if call.transport == "source":  # together 1.x sends with requests: read its constant
        from together import constants

        return str(constants.BASE_URL).rstrip("/") + call.route
    if call.transport == "boto3":
        with _boto_default_url() as urls, contextlib.suppress(Exception):
            call.run(None, None)
        return urls[0] if urls else None
    client, urls = _mock_client(call.dist)
    with contextlib.suppress(Exception):  # a parse error after the request is fine
        call.run(None, client)
    return urls[0] if urls else None


def capture(call: Call, server: CaptureServer) -> dict[str, Any]:
    """Run `call` against `server` (over TLS for boto3, which sends a Bearer token only so)."""
    server.take()
    error = None
    try:
        call.run(server.url + call.given, None)
    except Exception as exc:  # the request was made; the SDK may not like the canned answer
        error = f"{type(exc).__name__}"
    seen = server.take()
    if not seen:
        raise RuntimeError(f"{call.provider} {call.name}: the SDK sent nothing ({error})")
    request = seen[0].as_dict()
    request["headers"] = {
        k: (v.replace(KEY, "KEY") if KEY in v else v) for k, v in request["headers"].items()
    }
    return {
        "sdk": call.dist,
        "version": importlib.metadata.version(call.dist),
        "call": call.name,
        "code": call.code,
        "given_base": call.given,
        "model": MODELS.get(call.provider) if call.name != "probe" else None,
        "request": request,
        "default_url": _default_url(call),
        "sdk_error_after_request": error,
    }


def _merge(provider: str, entries: list[dict[str, Any]]) -> Path:
    path = OUT / f"{provider}.json"
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    old = {(e["sdk"], e["version"], e["call"]): e for e in doc.get("captures", [])}
    for entry in entries:
        old[(entry["sdk"], entry["version"], entry["call"])] = entry
    doc = {
        "provider": provider,
        "note": "Captured by tests/support/sdk_capture.py on 127.0.0.1; KEY stands for the key.",
        "python": platform.python_version(),
        "captures": sorted(old.values(), key=lambda e: (e["sdk"], e["version"], e["call"])),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


def main(argv: list[str]) -> int:
    wanted = set(argv)
    calls = [c for c in CALLS if not wanted or c.provider in wanted]
    if not wanted or "together" in wanted:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            calls += _together_calls()
    by_provider: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(CaptureServer())
        tls = _tls_context(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        secure = stack.enter_context(CaptureServer(tls=tls))
        for call in calls:
            server = secure if call.transport == "boto3" else plain
            try:
                importlib.metadata.version(call.dist)
            except importlib.metadata.PackageNotFoundError:
                continue
            by_provider.setdefault(call.provider, []).append(capture(call, server))
    for provider, entries in by_provider.items():
        print(_merge(provider, entries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
