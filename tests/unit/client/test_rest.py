"""RESTClient over real loopback HTTP against a tiny aiohttp app; kubeconfig loading; ApiError."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pocketkube.client import rest
from pocketkube.client.rest import ApiError, ClientConfig, ResourceRef, RESTClient
from pocketkube.machinery.errors import StatusError

PODS = ResourceRef("", "v1", "pods")
Seen = list[dict[str, Any]]


def _app(seen: Seen) -> web.Application:
    async def any_request(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                     "accept": request.headers.get("Accept"), "ctype": request.headers.get("Content-Type"),
                     "body": orjson.loads(body) if body else None})
        if request.path.endswith("/missing"):
            return web.json_response({"kind": "Status", "code": 404, "reason": "NotFound",
                                      "message": 'pods "missing" not found', "details": {"name": "missing"}},
                                     status=404)
        if request.path.endswith("/broken"):
            return web.Response(status=502, text="bad gateway")
        if request.query.get("watch") == "true":
            resp = web.StreamResponse()
            await resp.prepare(request)
            lines = [{"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}},
                     {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "6"}}},
                     {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                                  "message": "too old resource version: 1 (5)"}}]
            raw = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
            for i in range(0, len(raw), 7):  # events split across chunks
                await resp.write(raw[i:i + 7])
            return resp
        return web.json_response({"kind": "PodList", "metadata": {"resourceVersion": "9"}, "items": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    return app


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[RESTClient]:
    """`app` on a loopback port and a RESTClient for it; both closed afterwards."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    client = RESTClient(ClientConfig(server=f"http://127.0.0.1:{port}"))
    try:
        yield client
    finally:
        await client.close()
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[tuple[RESTClient, Seen]]:
    seen: Seen = []
    async with serving(_app(seen)) as client:
        yield client, seen


async def test_verbs_paths_and_headers(server: tuple[RESTClient, Seen]) -> None:
    client, seen = server
    await client.list(PODS, "ns", labelSelector="app=web")
    await client.list(PODS, accept=rest.PARTIAL_OBJECT_METADATA_LIST, resourceVersion="0")
    await client.create(PODS, {"target": {"name": "n1"}}, "ns", name="p", subresource="binding")
    await client.patch(PODS, "p", {"a": 1}, "ns", patch_type=rest.STRATEGIC_MERGE_PATCH, subresource="status")
    await client.delete_collection(PODS, "ns", labelSelector="x")
    assert [(s["method"], s["path"]) for s in seen] == [
        ("GET", "/api/v1/namespaces/ns/pods"), ("GET", "/api/v1/pods"),
        ("POST", "/api/v1/namespaces/ns/pods/p/binding"), ("PATCH", "/api/v1/namespaces/ns/pods/p/status"),
        ("DELETE", "/api/v1/namespaces/ns/pods")]
    assert seen[0]["query"] == {"labelSelector": "app=web"} and seen[0]["accept"] == "application/json"
    assert seen[1]["accept"] == rest.PARTIAL_OBJECT_METADATA_LIST
    assert seen[3]["ctype"] == rest.STRATEGIC_MERGE_PATCH
    assert seen[4]["query"] == {"labelSelector": "x"} and seen[4]["body"] == {}


async def test_errors_are_status_errors(server: tuple[RESTClient, Seen]) -> None:
    client, _ = server
    with pytest.raises(ApiError) as err:
        await client.get(PODS, "missing", "ns")
    e = err.value
    assert isinstance(e, StatusError) and e.not_found and e.reason == "NotFound"
    assert e.status["details"] == {"name": "missing"} and e.status()["code"] == 404
    assert str(e) == '404 NotFound: pods "missing" not found'
    with pytest.raises(ApiError) as bad:
        await client.get(PODS, "broken", "ns")
    assert bad.value.code == 502 and bad.value.message == "bad gateway"


async def test_watch_decodes_split_lines_and_raises_error_events(server: tuple[RESTClient, Seen]) -> None:
    client, seen = server
    events = []
    with pytest.raises(ApiError) as err:
        async for ev in client.watch(PODS, "ns", accept=rest.PARTIAL_OBJECT_METADATA, resourceVersion="1",
                                     timeoutSeconds="30"):
            events.append(ev["type"])
    assert events == ["ADDED", "BOOKMARK"] and err.value.expired
    assert seen[0]["query"] == {"resourceVersion": "1", "timeoutSeconds": "30", "watch": "true"}
    assert seen[0]["accept"] == rest.PARTIAL_OBJECT_METADATA
    await asyncio.sleep(0)


def _self_signed() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_from_kubeconfig_inline_data_and_files(tmp_path: Path) -> None:
    cert, key = _self_signed()
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    (tmp_path / "ca.crt").write_text(cert)
    doc = {"current-context": "inline", "contexts": [
        {"name": "inline", "context": {"cluster": "c1", "user": "u1"}},
        {"name": "files", "context": {"cluster": "c2", "user": "u2"}}],
        "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:6443",
                                                "certificate-authority-data": b64(cert)}},
                     {"name": "c2", "cluster": {"server": "https://10.0.0.1", "certificate-authority":
                                                str(tmp_path / "ca.crt")}}],
        "users": [{"name": "u1", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}},
                  {"name": "u2", "user": {"token": "secret"}}]}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    inline = ClientConfig.from_kubeconfig(path, user_agent="test")
    assert inline.server == "https://127.0.0.1:6443" and inline.cert_data == cert and inline.user_agent == "test"
    ctx = rest._ssl_context(inline)
    assert not isinstance(ctx, bool)
    files = ClientConfig.from_kubeconfig(path, context="files")
    assert files.ca_file == str(tmp_path / "ca.crt") and files.token == "secret"
    with pytest.raises(KeyError):
        ClientConfig.from_kubeconfig(path, context="nope")


async def test_wait_ready_polls_until_readyz_is_ok() -> None:
    answers = [503, 500, 200]
    polls: list[int] = []

    async def readyz(request: web.Request) -> web.Response:
        status = answers[min(len(polls), len(answers) - 1)]
        polls.append(status)
        return web.Response(status=status, text="ok" if status == 200 else "[-]poststarthook/rbac failed")

    app = web.Application()
    app.router.add_get("/readyz", readyz)
    async with serving(app) as client:
        await client.wait_ready(timeout=5, interval=0.01)
    assert polls == [503, 500, 200]


async def test_wait_ready_times_out_naming_the_last_answer() -> None:
    async with serving(web.Application()) as client:  # answers 404 to /readyz
        with pytest.raises(TimeoutError, match=r"not ready after 0 s.*404"):
            await client.wait_ready(timeout=0.2, interval=0.01)
