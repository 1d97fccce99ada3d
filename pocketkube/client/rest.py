"""Async REST client for the Kubernetes API (what every pocketkube component talks through).

Theory of operation: one aiohttp session per client, TLS with the cluster CA and
the component's client certificate (or a bearer token). Resources are addressed
by `ResourceRef` (group, version, plural, namespaced); objects are JSON dicts.
Non-2xx answers raise `ApiError` carrying the server's Status (code, reason,
message). `watch` yields decoded watch events from a streaming GET and ends when
the server closes the stream; an ERROR event is raised as ApiError (410 means
relist).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    user_agent: str = "pocketkube"
    timeout: float = 30.0


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


class ApiError(Exception):
    def __init__(self, code: int, status: dict[str, Any]) -> None:
        super().__init__(f"{code} {status.get('reason', '')}: {status.get('message', '')}")
        self.code = code
        self.status = status
        self.reason = str(status.get("reason", ""))
        self.message = str(status.get("message", ""))


def _ssl_context(cfg: ClientConfig) -> ssl.SSLContext | bool:
    if not cfg.server.startswith("https"):
        return False
    ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx


class RESTClient:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        headers = {"User-Agent": config.user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._session: aiohttp.ClientSession | None = None
        self._headers = headers

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=_ssl_context(self.config), limit=64)
            self._session = aiohttp.ClientSession(base_url=self.config.server, connector=connector,
                                                  headers=self._headers, json_serialize=lambda o: orjson.dumps(
                                                      o).decode())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else None
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

    async def list(self, ref: ResourceRef, namespace: str = "", **params: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", ref.path(namespace), params=params or None)
        return result

    async def create(self, ref: ResourceRef, obj: dict[str, Any], namespace: str = "",
                     field_manager: str = "") -> dict[str, Any]:
        params = {"fieldManager": field_manager} if field_manager else None
        result: dict[str, Any] = await self.request("POST", ref.path(namespace), body=obj, params=params)
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

    async def watch(self, ref: ResourceRef, namespace: str = "", **params: str) -> AsyncIterator[dict[str, Any]]:
        params = {**params, "watch": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(ref.path(namespace), params=params, timeout=timeout) as resp:
            if resp.status >= 300:
                raise ApiError(resp.status, _status_of(await resp.read(), resp.status))
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    if event.get("type") == "ERROR":
                        obj = event.get("object") or {}
                        raise ApiError(int(obj.get("code") or 500), obj)
                    yield event


def _status_of(raw: bytes, code: int) -> dict[str, Any]:
    try:
        status = orjson.loads(raw)
        if isinstance(status, dict):
            return status
    except orjson.JSONDecodeError:
        pass
    return {"kind": "Status", "code": code, "message": raw.decode(errors="replace")[:500]}
