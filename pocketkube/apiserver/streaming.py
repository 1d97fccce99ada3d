"""Streaming subresources of pods (log, exec, attach, portforward): validated here, served by the node agent.

Theory of operation (upstream's pod LogLocation/streamLocation + the
upgrade-aware proxy): the dispatcher has authenticated and authorized the
request; a WebSocket GET of exec/attach/portforward must also be allowed to
`create` the subresource, as upstream's AuthorizePodWebsocketUpgradeCreatePermission
demands. The pod's container is resolved with upstream's 400 messages, then
the node's streaming server is located from the Node object
(status.daemonEndpoints.kubeletEndpoint.Port and the first of InternalIP,
ExternalIP, Hostname in status.addresses) and the request is re-issued there
over TLS with the apiserver's kubelet client certificate:

- log: `GET /containerLogs/NS/POD/CONTAINER?...`; the body is streamed back
  chunk by chunk (kubectl logs -f); a non-200 answer becomes a Status (400 ->
  BadRequest carrying the node agent's text). A pod without a node has no
  logs yet: an empty body, as upstream.
- exec/attach/portforward: the upgrade request (WebSocket or SPDY) is sent to
  `/exec|attach/NS/POD/CONTAINER` or `/portForward/NS/POD`; a 101 is relayed and
  from then on bytes are copied both ways untouched, so every protocol kubectl
  and the node agent agree on works; any other answer is relayed as it is, so
  kubectl's WebSocket-to-SPDY fallback behaves as against a real cluster.

The address types tried, in order, are `extra["kubelet_preferred_address_types"]`
(upstream's --kubelet-preferred-address-types; default InternalIP, ExternalIP,
Hostname). TLS to the node: trust `extra["kubelet_certificate_authority"]` (default: the
cluster CA, client_ca_file) and present `extra["kubelet_client_certificate"]`
/ `["kubelet_client_key"]` (default: apiserver-kubelet-client.crt/.key next to
the serving certificate, when present).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from pocketkube.api.scheme import Resource
from pocketkube.apiserver.auth import Attributes, forbidden_message
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.requestinfo import RequestInfo
from pocketkube.apiserver.streamproto.http1 import UpgradeError, open_upgrade
from pocketkube.apiserver.streamproto.transport import splice, take_over
from pocketkube.machinery import errors

if TYPE_CHECKING:
    from pocketkube.apiserver.server import APIServer

Obj = dict[str, Any]
ADDRESS_TYPES = ("InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP", "Hostname")
LOG_PARAMS = ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes")
FORWARDED_HEADERS = frozenset({"connection", "upgrade", "sec-websocket-key", "sec-websocket-version",
                               "sec-websocket-protocol", "sec-websocket-extensions", "x-stream-protocol-version",
                               "user-agent", "content-length"})
TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})  # Go's strconv.ParseBool
DROPPED_REPLY_HEADERS = frozenset({"date", "server", "content-length", "transfer-encoding"})


def _names(containers: list[Obj]) -> str:
    return " ".join(c.get("name", "") for c in containers)


def resolve_container(pod: Obj, container: str) -> str:
    """The container a log/exec/attach request means, with upstream's errors."""
    spec = pod.get("spec") or {}
    regular, init = spec.get("containers") or [], spec.get("initContainers") or []
    name = pod["metadata"]["name"]
    if not container:
        if len(regular) == 1:
            return str(regular[0]["name"])
        if not regular:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        msg = f"a container name must be specified for pod {name}, choose one of: [{_names(regular)}]"
        if init:
            msg += f" or one of the init containers: [{_names(init)}]"
        raise errors.bad_request(msg)
    every = [*regular, *init, *(spec.get("ephemeralContainers") or [])]
    if not any(c.get("name") == container for c in every):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def validate_log_query(query: Any) -> None:
    """PodLogOptions validation (422 like upstream)."""
    errs = []
    for field, minimum, detail in (("tailLines", 0, "must be greater than or equal to 0"),
                                   ("limitBytes", 1, "must be greater than 0"),
                                   ("sinceSeconds", 1, "must be greater than 0")):
        raw = query.get(field)
        if raw is None:
            continue
        try:
            ok = int(raw) >= minimum
        except ValueError:
            raise errors.bad_request(f'invalid value for {field}: "{raw}"') from None
        if not ok:
            errs.append(errors.invalid(field, int(raw), detail))
    if query.get("sinceSeconds") is not None and query.get("sinceTime"):
        errs.append(errors.forbidden("sinceTime", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    if errs:
        raise errors.invalid_error("PodLogOptions", "", "", errs)


def node_endpoint(node: Obj, preferred: tuple[str, ...] = ADDRESS_TYPES) -> tuple[str, int] | None:
    status = node.get("status") or {}
    port = int(((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0)
    addresses = status.get("addresses") or []
    for kind in preferred:
        for a in addresses:
            if a.get("type") == kind and a.get("address") and port:
                return str(a["address"]), port
    return None


class Streaming:
    def __init__(self, server: APIServer) -> None:
        self.server = server
        self._ssl: dict[tuple[bool, bool], ssl.SSLContext] = {}

    async def handle(self, request: web.Request, info: RequestInfo, resource: Resource, query: dict[str, str],
                     ctx: RequestContext) -> web.StreamResponse:
        if resource.plural != "pods" or info.subresource not in ("log", "exec", "attach", "portforward"):
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f"{resource.plural}/{info.subresource} is not available yet")
        store = self.server.store_for(resource)
        pod = (await store.get(info.namespace, info.name)).obj
        if info.subresource == "log":
            return await self._logs(request, pod)
        await self._authorize_create(request, info, ctx)
        return await self._upgrade(request, info.subresource, pod)

    async def _authorize_create(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> None:
        if info.verb != "get":
            return
        attrs = Attributes(verb="create", resource_request=True, path=request.path, api_group=info.group,
                           api_version=info.version, namespace=info.namespace, resource=info.resource,
                           subresource=info.subresource, name=info.name)
        allowed, _ = await self.server.authorizer.authorize(ctx.user, attrs)
        if not allowed:
            raise errors.forbidden_error("pods", "", info.name,
                                         forbidden_message(ctx.user, attrs))

    # ------------------------------------------------------------------ locating the node
    async def _node_endpoint(self, pod: Obj) -> tuple[str, int]:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        nodes = self.server.scheme.get("", "v1", "nodes")
        assert nodes is not None
        try:
            node = (await self.server.store_for(nodes).get("", node_name)).obj
        except errors.StatusError as e:
            if e.code == 404:
                raise errors.StatusError(404, "NotFound", f'nodes "{node_name}" not found') from None
            raise
        preferred = tuple(self.server.config.extra.get("kubelet_preferred_address_types") or ADDRESS_TYPES)
        endpoint = node_endpoint(node, preferred)
        if endpoint is None:
            raise errors.StatusError(503, "ServiceUnavailable", f'no node agent is serving node "{node_name}"')
        return endpoint

    def _client_ssl(self, verify: bool = True) -> ssl.SSLContext:
        cfg = self.server.config
        extra = cfg.extra
        cert = extra.get("kubelet_client_certificate") or (
            str(Path(cfg.cert_file).parent / "apiserver-kubelet-client.crt") if cfg.cert_file else "")
        key = extra.get("kubelet_client_key") or (cert[:-4] + ".key" if cert.endswith(".crt") else "")
        have_cert = bool(cert) and Path(cert).exists() and Path(key).exists()
        if (verify, have_cert) in self._ssl:
            return self._ssl[(verify, have_cert)]
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ca = extra.get("kubelet_certificate_authority") or cfg.client_ca_file
        if verify and ca:
            ctx.load_verify_locations(ca)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if have_cert:
            ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        self._ssl[(verify, have_cert)] = ctx
        return ctx

    # ------------------------------------------------------------------ logs
    async def _logs(self, request: web.Request, pod: Obj) -> web.StreamResponse:
        validate_log_query(request.query)
        container = resolve_container(pod, request.query.get("container", ""))
        if not (pod.get("spec") or {}).get("nodeName"):
            return web.Response(body=b"", content_type="text/plain")
        host, port = await self._node_endpoint(pod)
        params = {k: request.query[k] for k in LOG_PARAMS if k in request.query}
        meta = pod["metadata"]
        url = f"https://{_hostport(host, port)}/containerLogs/{meta['namespace']}/{meta['name']}/{container}"
        verify = request.query.get("insecureSkipTLSVerifyBackend", "") not in TRUE
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._client_ssl(verify)),
                                             timeout=timeout) as session, \
                    session.get(url, params=params) as upstream:
                if upstream.status != 200:
                    raise _kubelet_error(upstream.status, await upstream.text())
                resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
                resp.enable_chunked_encoding()
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
        except aiohttp.ClientError as e:
            raise errors.StatusError(500, "InternalError", f'Get "{url}": {e}') from None

    # ------------------------------------------------------------------ exec, attach, portforward
    def _target(self, request: web.Request, subresource: str, pod: Obj) -> str:
        meta = pod["metadata"]
        q = request.query
        if subresource == "portforward":
            ports = ",".join(q.getall("ports", []))
            return f"/portForward/{meta['namespace']}/{meta['name']}" + (f"?{urlencode({'port': ports})}" if ports else "")
        container = resolve_container(pod, q.get("container", ""))
        params = [(k, "1") for k in ("stdin", "stdout", "stderr", "tty") if q.get(k, "") in TRUE]
        if subresource == "exec":
            params += [("command", c) for c in q.getall("command", [])]
        path = f"/{subresource}/{meta['namespace']}/{meta['name']}/{container}"
        return path + (f"?{urlencode(params)}" if params else "")

    async def _upgrade(self, request: web.Request, subresource: str, pod: Obj) -> web.StreamResponse:
        target = self._target(request, subresource, pod)
        host, port = await self._node_endpoint(pod)
        if "upgrade" not in request.headers.get("Connection", "").lower():
            raise errors.bad_request("Upgrade request required")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS]
        try:
            upstream = await open_upgrade(host, port, request.method, target, headers,
                                          ssl_context=self._client_ssl(), server_hostname=host)
        except UpgradeError as e:
            raise errors.StatusError(500, "InternalError", f"error dialing backend: {e}") from None
        if upstream.status != 101 or upstream.conn is None:
            reply = web.Response(status=upstream.status, body=upstream.body)
            reply.headers["Content-Type"] = upstream.header("Content-Type") or "text/plain"
            return reply
        relay = {k: v for k, v in upstream.headers if k.lower() not in DROPPED_REPLY_HEADERS}
        conn = await take_over(request, relay)
        await splice(conn, upstream.conn)
        return conn.response


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _kubelet_error(status: int, text: str) -> errors.StatusError:
    text = text.strip()
    if status == 400:
        return errors.bad_request(text)
    if status == 404:
        return errors.StatusError(404, "NotFound", text)
    if status in (401, 403):
        return errors.StatusError(status, "Forbidden" if status == 403 else "Unauthorized", text)
    return errors.internal_error(text)
