"""Async REST client for the Kubernetes API (what every pocketkube component talks through).

Theory of operation: one aiohttp session per client, TLS with the cluster CA and
the component's client certificate (or a bearer token). Resources are addressed
by `ResourceRef` (group, version, plural, namespaced); objects are JSON dicts.
Non-2xx answers raise `ApiError` carrying the server's Status (code, reason,
message). `watch` yields decoded watch events from a streaming GET and ends when
the server closes the stream; an ERROR event is raised as ApiError (410 means
relist).

Errors are `ApiError`, a `machinery.errors.StatusError` that also keeps the
raw Status body. `accept=` asks for another representation (the metadata-only
PartialObjectMetadata(List) shapes informers of the garbage collector use).
`ClientConfig.from_kubeconfig` reads a kubeconfig (file paths or inline
*-data, which is loaded into the TLS context without staying on disk).
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import yaml

from pocketkube.client.clock import monotonic
from pocketkube.machinery.errors import StatusError

JSON = "application/json"
# Accept headers of metadata-only lists and watches (what client-go's metadata client sends).
PARTIAL_OBJECT_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PARTIAL_OBJECT_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    user_agent: str = "pocketkube"
    timeout: float = 30.0
    ca_data: str = ""
    cert_data: str = ""
    key_data: str = ""

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], context: str = "", **overrides: Any) -> ClientConfig:
        """The server and credentials of a kubeconfig context (the current one by default)."""
        doc = yaml.safe_load(Path(path).read_text()) or {}
        ctx_name = context or doc.get("current-context", "")
        ctx = _named(doc.get("contexts"), ctx_name, "context")
        cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
        user = _named(doc.get("users"), ctx.get("user", ""), "user")
        return cls(server=cluster.get("server", ""), ca_file=cluster.get("certificate-authority", ""),
                   ca_data=_pem(cluster.get("certificate-authority-data")),
                   cert_file=user.get("client-certificate", ""), key_file=user.get("client-key", ""),
                   cert_data=_pem(user.get("client-certificate-data")),
                   key_data=_pem(user.get("client-key-data")), token=user.get("token", ""), **overrides)


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            found: dict[str, Any] = entry.get(what) or {}
            return found
    raise KeyError(f"kubeconfig has no {what} named {name!r}")


def _pem(data: str | None) -> str:
    return base64.b64decode(data).decode() if data else ""


@dataclass(frozen=True)
class ResourceRef:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


class StatusBody(dict[str, Any]):
    """The server's Status object; calling it returns it too (StatusError.status() compatibility)."""

    def __call__(self) -> dict[str, Any]:
        return self


class ApiError(StatusError):
    """A non-2xx answer: the HTTP code and the server's Status object (`.status`, a dict)."""

    status: StatusBody  # a dict that is also callable, see StatusBody

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        super().__init__(code, str(status.get("reason", "")), str(status.get("message", "")),
                         status.get("details"))
        self.status = StatusBody(status)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    @classmethod
    def from_status_error(cls, err: StatusError) -> ApiError:
        return cls(err.code, err.status())

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409 and self.reason == "Conflict"

    @property
    def already_exists(self) -> bool:
        return self.code == 409 and self.reason == "AlreadyExists"

    @property
    def expired(self) -> bool:
        """410: the resourceVersion is too old for the watch cache (relist)."""
        return self.code == 410


def _ssl_context(cfg: ClientConfig) -> ssl.SSLContext | bool:
    if not cfg.server.startswith("https"):
        return False
    ctx = ssl.create_default_context(cafile=cfg.ca_file or None, cadata=cfg.ca_data or None)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    elif cfg.cert_data:
        with tempfile.TemporaryDirectory(prefix="pocketkube-client-") as tmp:
            cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            cert.write_text(cfg.cert_data)
            key.touch(mode=0o600)
            key.write_text(cfg.key_data)
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


class RESTClient:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        headers = {"User-Agent": config.user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._session: aiohttp.ClientSession | None = None
        self._headers = headers
        self._streams: set[aiohttp.ClientResponse] = set()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=_ssl_context(self.config), limit=64)
            self._session = aiohttp.ClientSession(base_url=self.config.server, connector=connector,
                                                  headers=self._headers, json_serialize=lambda o: orjson.dumps(
                                                      o).decode())
        return self._session

    async def wait_ready(self, timeout: float = 60.0, interval: float = 0.05) -> None:
        """Poll /readyz until the apiserver answers ok (kube-controller-manager's WaitForAPIServer):
        a component started beside the apiserver imports and sets up meanwhile, then starts its
        informers and leader election against a server that is ready, not into a retry backoff."""
        deadline = monotonic() + timeout
        last = "no answer"
        while True:
            try:
                async with self.session.get("/readyz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        return
                    last = f"{resp.status}: {body[:200].decode(errors='replace')}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = str(exc) or type(exc).__name__
            if monotonic() >= deadline:
                raise TimeoutError(f"apiserver {self.config.server} not ready after {timeout:.0f} s ({last})")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """End open watch streams and close the connections (a later call opens new ones)."""
        self.abort_watches()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json", accept: str = "") -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        if accept:
            headers["Accept"] = accept
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with self.session.request(method, path, params=params, data=data, headers=headers,
                                        timeout=timeout) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise ApiError(resp.status, _status_of(raw, resp.status))
            return orjson.loads(raw) if raw else None

    # ------------------------------------------------------------------ verbs
    async def get(self, ref: ResourceRef, name: str, namespace: str = "") -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", ref.path(namespace, name))
        return result

    async def list(self, ref: ResourceRef, namespace: str = "", *, accept: str = "",
                   **params: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", ref.path(namespace), params=params or None,
                                                    accept=accept)
        return result

    async def create(self, ref: ResourceRef, obj: dict[str, Any], namespace: str = "",
                     field_manager: str = "", *, name: str = "", subresource: str = "") -> dict[str, Any]:
        """POST to the collection, or to `name`/`subresource` (pods/binding, pods/eviction)."""
        params = {"fieldManager": field_manager} if field_manager else None
        path = ref.path(namespace, name, subresource) if subresource else ref.path(namespace)
        result: dict[str, Any] = await self.request("POST", path, body=obj, params=params)
        return result

    async def update(self, ref: ResourceRef, obj: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        meta = obj["metadata"]
        result: dict[str, Any] = await self.request(
            "PUT", ref.path(meta.get("namespace", ""), meta["name"], subresource), body=obj)
        return result

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str = "", *,
                    patch_type: str = "application/merge-patch+json", subresource: str = "") -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PATCH", ref.path(namespace, name, subresource), body=patch,
                                                    content_type=patch_type)
        return result

    async def delete(self, ref: ResourceRef, name: str, namespace: str = "",
                     options: dict[str, Any] | None = None) -> Any:
        return await self.request("DELETE", ref.path(namespace, name), body=options or {})

    async def delete_collection(self, ref: ResourceRef, namespace: str = "",
                                options: dict[str, Any] | None = None, **params: str) -> Any:
        return await self.request("DELETE", ref.path(namespace), body=options or {}, params=params or None)

    async def watch(self, ref: ResourceRef, namespace: str = "", *, accept: str = "",
                    **params: str) -> AsyncIterator[dict[str, Any]]:
        """Decoded watch events until the server ends the stream; ERROR events raise ApiError."""
        params = {**params, "watch": "true"}
        # The server ends the stream at timeoutSeconds; a read that stalls well past that is a dead link.
        stall = float(params["timeoutSeconds"]) + 30.0 if params.get("timeoutSeconds", "").isdigit() else None
        timeout = aiohttp.ClientTimeout(total=None, sock_read=stall)
        headers = {"Accept": accept} if accept else None
        async with self.session.get(ref.path(namespace), params=params, timeout=timeout,
                                    headers=headers) as resp:
            if resp.status >= 300:
                raise ApiError(resp.status, _status_of(await resp.read(), resp.status))
            self._streams.add(resp)
            try:
                async for event in _decode_stream(resp):
                    yield event
            finally:
                self._streams.discard(resp)

    def abort_watches(self) -> int:
        """Cut every open watch stream's connection (their readers see a transport error)."""
        streams, self._streams = list(self._streams), set()
        for resp in streams:
            resp.close()
        return len(streams)


async def _decode_stream(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    buf = bytearray()
    async for chunk in resp.content.iter_any():
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:end])
            start = end + 1
            if not line.strip():
                continue
            event = orjson.loads(line)
            if event.get("type") == "ERROR":
                obj = event.get("object") or {}
                raise ApiError(int(obj.get("code") or 500), obj)
            yield event
        del buf[:start]


def _status_of(raw: bytes, code: int) -> dict[str, Any]:
    try:
        status = orjson.loads(raw)
        if isinstance(status, dict):
            return status
    except orjson.JSONDecodeError:
        pass
    return {"kind": "Status", "code": code, "message": raw.decode(errors="replace")[:500]}
