"""The API server process: wiring, the HTTPS listener and the request entry point.

Theory of operation: `APIServer` owns the storage connection, the watch cache,
one ResourceStore per served resource, admission and the auth chains. `run()`
opens storage, starts the watch cache, writes the bootstrap objects and then
serves HTTPS on the configured address until cancelled; every long-running task
belongs to one TaskGroup. Once up it tunes the cyclic garbage collector for a
heap that is mostly the watch cache (`tune_gc`). Each request goes through
`dispatch`: parse the path (requestinfo), authenticate (401), authorize (403),
then the resource handlers or the non-resource endpoints; StatusErrors become
Status responses and anything unexpected a 500 InternalError.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pocketkube.aio.gctuning import tune_gc
from pocketkube.api.scheme import SCHEME, Resource, Scheme
from pocketkube.apiserver import bootstrap, rbac_aggregation, responses
from pocketkube.apiserver.admission import Admission, NamespaceLifecycle, ServiceAllocation
from pocketkube.apiserver.admission_pods import (
    DefaultTolerationSeconds,
    PriorityAdmission,
    ServiceAccountAdmission,
)
from pocketkube.apiserver.allocators import ServiceAllocator
from pocketkube.apiserver.auth import (
    PUBLIC_PATHS,
    Attributes,
    Authenticator,
    AuthorizerChain,
    forbidden_message,
    has_impersonation,
    impersonate,
)
from pocketkube.apiserver.context import RequestContext, UserInfo
from pocketkube.apiserver.conversion import VersionedStore
from pocketkube.apiserver.handlers import ResourceHandlers
from pocketkube.apiserver.metrics import Metrics
from pocketkube.apiserver.nonresource import NonResource
from pocketkube.apiserver.requestinfo import RequestInfo, parse
from pocketkube.apiserver.security import Security
from pocketkube.apiserver.store import ResourceStore
from pocketkube.apiserver.streaming import Streaming
from pocketkube.apiserver.subresources import Subresources
from pocketkube.apiserver.tracing import Tracer
from pocketkube.apiserver.virtual import VirtualResources
from pocketkube.apiserver.watchcache import WatchCache
from pocketkube.machinery import errors
from pocketkube.storage import interface as storage

log = logging.getLogger("pocketkube.apiserver")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 6443
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    advertise_address: str = "127.0.0.1"
    compaction_interval: float = 300.0
    # service-account tokens (security.py): verification keys, signing key, issuers, API audiences
    service_account_key_files: list[str] = field(default_factory=list)
    service_account_signing_key_file: str = ""
    service_account_issuers: list[str] = field(default_factory=list)
    api_audiences: list[str] = field(default_factory=list)
    tracing_endpoint: str = ""  # OTLP/HTTP traces endpoint; empty = tracing off
    extra: dict[str, Any] = field(default_factory=dict)


class APIServer:
    def __init__(self, config: ServerConfig, store: storage.Store, scheme: Scheme = SCHEME) -> None:
        self.config = config
        self.store = store
        self.scheme = scheme
        prefixes = {r.key_prefix for r in scheme.resources if r.stored}
        self.cache = WatchCache(store, prefixes)
        self.allocator = ServiceAllocator()
        self.admission = Admission([
            NamespaceLifecycle(self.cache), ServiceAccountAdmission(self.cache), DefaultTolerationSeconds(),
            PriorityAdmission(self.cache), ServiceAllocation(self.cache, self.allocator)])
        self.authenticator = Authenticator()
        self.authorizer = AuthorizerChain()
        self.security = Security(self)  # SA tokens, Node+RBAC authorizers, escalation admission
        self.metrics = Metrics()
        self.tracer = Tracer(config.tracing_endpoint)
        self._stores: dict[tuple[str, str, str], ResourceStore] = {}
        self.resources = ResourceHandlers(self)
        self.subresources = Subresources(self)
        self.virtual = VirtualResources(self)
        self.streaming = Streaming(self)
        self.nonresource = NonResource(self)
        self.ready = asyncio.Event()
        self.bound_port = config.port

    # ------------------------------------------------------------------ wiring
    def store_for(self, resource: Resource) -> ResourceStore:
        key = (resource.group, resource.version, resource.plural)
        s = self._stores.get(key)
        if s is None:
            storage_resource = self.scheme.storage_version(resource)
            inner = ResourceStore(storage_resource, store=self.store, cache=self.cache, admission=self.admission)
            s = inner if storage_resource is resource else VersionedStore(resource, inner)
            self._stores[key] = s
        return s

    def advertise_address(self) -> str:
        return f"{self.config.advertise_address}:{self.bound_port}"

    def root_paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/metrics", "/openapi/v2",
                 "/openapi/v3", "/version"}
        for group, versions in self.scheme.groups().items():
            if group:
                paths.add(f"/apis/{group}")
                paths.update(f"/apis/{group}/{v}" for v in versions)
        return sorted(paths)

    def health_checks(self, endpoint: str) -> dict[str, Callable[[], Awaitable[bool]]]:
        async def ok() -> bool:
            return True

        async def storage_ok() -> bool:
            await asyncio.wait_for(self.store.current_revision(), 2.0)
            return True

        async def cache_ok() -> bool:
            return self.cache.ready.is_set()

        async def ready_ok() -> bool:
            return self.ready.is_set()

        checks: dict[str, Callable[[], Awaitable[bool]]] = {"ping": ok, "log": ok, "etcd": storage_ok}
        if endpoint == "readyz":
            checks["informer-sync"] = cache_ok
            checks["poststarthook/bootstrap-controller"] = ready_ok
        return checks

    async def rules_for(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        return self.security.rules_for(user, namespace)

    async def review_token(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """TokenReview status."""
        return self.security.review_token(token, audiences)

    async def authenticate_token(self, token: str) -> UserInfo | None:
        for auth in self.authenticator.token_authenticators:
            user = await auth(token)
            if user is not None:
                return user
        return None

    def metrics_response(self) -> web.Response:
        for r in self.scheme.resources:
            if r.stored and r.is_storage_version:
                n = len(self.cache.cache(r.key_prefix).entries)
                self.metrics.set_objects(r.group_resource, n)
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    # ------------------------------------------------------------------ requests
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        start = time.perf_counter()
        query = {k: request.query.getone(k) for k in request.query}
        info = parse(request.method, request.path, query)
        ctx = RequestContext(user_agent=request.headers.get("User-Agent", ""))
        code = 500
        try:
            if self.tracer.enabled:
                return await self._traced(request, info, query, ctx)
            resp = await self._serve(request, info, query, ctx)
            code = resp.status
            return resp
        except errors.StatusError as e:
            code = e.code
            return responses.status_response(e, ctx)
        except (asyncio.CancelledError, ConnectionResetError):
            code = 499
            raise
        except Exception as e:
            log.exception("internal error serving %s %s", request.method, request.path)
            err = errors.internal_error(f"{type(e).__name__}: {e}")
            return responses.status_response(err, ctx)
        finally:
            self.metrics.observe(info, code, time.perf_counter() - start)

    async def _traced(self, request: web.Request, info: RequestInfo, query: dict[str, str],
                      ctx: RequestContext) -> web.StreamResponse:
        attrs = {"http.method": request.method, "http.target": request.path_qs, "k8s.verb": info.verb,
                 "k8s.resource": info.resource, "k8s.namespace": info.namespace, "k8s.name": info.name,
                 "user_agent.original": ctx.user_agent}
        with self.tracer.span(f"HTTP {info.verb} {info.resource or request.path}", request.headers, attrs) as span:
            try:
                resp = await self._serve(request, info, query, ctx)
            except errors.StatusError as e:
                span.set_attribute("http.status_code", e.code)
                raise
            span.set_attribute("http.status_code", resp.status)
            return resp

    async def _serve(self, request: web.Request, info: RequestInfo, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        user = await self.authenticator.authenticate(request)
        if user is None:
            if request.path.rstrip("/") in PUBLIC_PATHS or request.path.startswith(("/livez/", "/readyz/")):
                return await self.nonresource.handle(request)
            raise errors.unauthorized()
        if has_impersonation(request):
            user = await impersonate(request, user, self.authorizer)
        ctx.user = user
        attrs = Attributes(verb=info.verb, resource_request=info.is_resource, path=request.path,
                           api_group=info.group, api_version=info.version, namespace=info.namespace,
                           resource=info.resource, subresource=info.subresource, name=info.name)
        allowed, reason = await self.authorizer.authorize(user, attrs)
        if not allowed:
            msg = forbidden_message(user, attrs) + (f": {reason}" if reason else "")
            if info.is_resource:
                raise errors.forbidden_error(info.resource, info.group, info.name, msg)
            raise errors.StatusError(403, "Forbidden", f'forbidden: {msg}', {})
        if info.is_resource:
            return await self.resources.handle(request, info, query, ctx)
        return await self.nonresource.handle(request)

    # ------------------------------------------------------------------ lifecycle
    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.config.cert_file:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.config.cert_file, self.config.key_file)
        if self.config.client_ca_file:
            ctx.load_verify_locations(self.config.client_ca_file)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def run(self, started: Callable[[int], None] | None = None) -> None:
        """Serve until cancelled."""
        runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await runner.setup()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.cache.run(), name="watch-cache")
                tg.create_task(self._compactor(), name="compactor")
                await self.cache.ready.wait()
                site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self.ssl_context(),
                                   backlog=1024)
                await site.start()
                self.bound_port = _bound_port(runner) or self.config.port
                await bootstrap.run(self, self.config.advertise_address, self.bound_port)
                tune_gc()
                tg.create_task(rbac_aggregation.run(self), name="clusterrole-aggregation")
                self.ready.set()
                log.info("serving on %s:%d", self.config.host, self.bound_port)
                if started:
                    started(self.bound_port)
                await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    async def _compactor(self) -> None:
        """Keep storage history bounded, as kube-apiserver compacts etcd every 5 minutes."""
        previous = 0
        while True:
            await asyncio.sleep(self.config.compaction_interval)
            try:
                current = await self.store.current_revision()
                if previous and previous > await self.store.compacted_revision():
                    await self.store.compact(previous)
                previous = current
            except Exception:
                log.exception("compaction failed")


def _bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        for s in sockets:
            return int(s.getsockname()[1])
    return 0
