"""Non-resource endpoints: /version, health checks, discovery, OpenAPI.

Theory of operation: these paths are served from documents computed once (or
per request for health), keyed by exact path. Health endpoints follow
upstream's shape: plain `ok`, or with `?verbose` one `[+]name ok` line per check
and a final `<endpoint> check passed`; a failing check answers 500 with
`[-]name failed: reason withheld`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from pocketkube import __version__
from pocketkube.apiserver import discovery, openapi, responses
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

KUBE_VERSION = "v1.32.4"
VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": f"{KUBE_VERSION}+pocketkube",
    "gitCommit": "pocketkube-" + __version__, "gitTreeState": "clean", "buildDate": "2026-11-22T00:00:00Z",
    "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64",
}

Check = Callable[[], Awaitable[bool]]


class NonResource:
    def __init__(self, server: APIServer) -> None:
        self.server = server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return responses.respond(VERSION_INFO)
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return await self.health(request, path)
        if path == "/metrics":
            return self.server.metrics_response()
        if path in ("/api", "/apis") or path.startswith(("/api/", "/apis/")):
            return self.discovery(request, path)
        if path.startswith("/openapi/"):
            return self.openapi(request, path)
        if path == "/":
            return responses.respond({"paths": sorted(self.server.root_paths())})
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})

    # ------------------------------------------------------------------ health
    async def health(self, request: web.Request, path: str) -> web.StreamResponse:
        endpoint, _, only = path.lstrip("/").partition("/")
        checks = self.server.health_checks(endpoint)
        if only:
            checks = {k: v for k, v in checks.items() if k == only}
            if not checks:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
        exclude = set(request.query.getall("exclude", []))
        lines, ok = [], True
        for name, check in checks.items():
            if name in exclude:
                lines.append(f"[+]{name} excluded: ok")
                continue
            try:
                passed = await check()
            except Exception:
                passed = False
            ok = ok and passed
            lines.append(f"[+]{name} ok" if passed else f"[-]{name} failed: reason withheld")
        verbose = "verbose" in request.query or not ok
        if not verbose:
            return web.Response(text="ok", content_type="text/plain")
        lines.append(f"{endpoint} check passed" if ok else f"{endpoint} check failed")
        return web.Response(text="\n".join(lines) + "\n", status=200 if ok else 500, content_type="text/plain")

    # ------------------------------------------------------------------ discovery
    def discovery(self, request: web.Request, path: str) -> web.StreamResponse:
        scheme_id = id(self.server.scheme)
        parts = path.strip("/").split("/")
        if path in ("/api", "/apis"):
            agg_ct = discovery.wants_aggregated(request.headers.get("Accept"))
            if agg_ct:
                av = "apidiscovery.k8s.io/v2" if agg_ct == discovery.AGGREGATED_CT else "apidiscovery.k8s.io/v2beta1"
                body, etag = discovery.cached("aggregated", scheme_id, path == "/api", av)
                return self._etagged(request, body, etag, agg_ct)
            if path == "/api":
                return responses.respond(discovery.legacy_api_versions(self.server.advertise_address()))
            body, etag = discovery.cached("groups", scheme_id)
            return self._etagged(request, body, etag, responses.JSON_CT)
        if parts[0] == "api" and len(parts) == 2:
            if parts[1] != "v1":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            body, etag = discovery.cached("resources", scheme_id, "", "v1")
            return self._etagged(request, body, etag, responses.JSON_CT)
        if parts[0] == "apis" and len(parts) == 2:
            body, etag = discovery.cached("group", scheme_id, parts[1])
            if body == b"null":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            return self._etagged(request, body, etag, responses.JSON_CT)
        if parts[0] == "apis" and len(parts) == 3 and self.server.scheme.in_group_version(parts[1], parts[2]):
            body, etag = discovery.cached("resources", scheme_id, parts[1], parts[2])
            return self._etagged(request, body, etag, responses.JSON_CT)
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})

    @staticmethod
    def _etagged(request: web.Request, body: bytes, etag: str, content_type: str) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return responses.raw_json(body, content_type=content_type, headers={"ETag": etag})

    # ------------------------------------------------------------------ openapi
    def openapi(self, request: web.Request, path: str) -> web.StreamResponse:
        scheme = self.server.scheme
        if path == "/openapi/v3":
            return responses.respond(openapi.v3_root(scheme))
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/"):]
            body = openapi.v3_path_document(scheme, key)
            if body is None:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            etag = '"' + (openapi.v3_path_hash(scheme, key) or "") + '"'
            immutable = request.query.get("hash") == etag.strip('"')
            headers = {"ETag": etag, "Cache-Control": "public, immutable" if immutable else "no-cache, private"}
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
            return responses.raw_json(body, headers=headers)
        if path == "/openapi/v2":
            etag = openapi.v2_etag(scheme)
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            if "protobuf" in request.headers.get("Accept", ""):
                # Requested as ...spec.v2@v1.0+protobuf; answered, as upstream, as ...spec.v2.v1.0+protobuf.
                return web.Response(body=openapi.v2_protobuf(scheme), headers={
                    "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "ETag": etag})
            return responses.raw_json(openapi.v2_document(scheme), headers={"ETag": etag})
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
