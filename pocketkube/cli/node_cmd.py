"""`pocketkube node ...`: add, list and remove a profile's simulated nodes, and partition one.

Theory of operation: a simulated node is just a Node object labelled
`pocketkube.io/simulated=true`; the profile's node agent serves every such
node (pocketkube/kubelet). So these commands only talk to the API with the
admin certificate: `add` creates node skeletons (name, label, capacity) and
waits until the agent reports them Ready; `remove` deletes them (and their
Leases); `stop-heartbeat` / `resume-heartbeat` set or clear the annotation
`pocketkube.io/simulate-heartbeat: stopped`, which makes the agent behave like
a partitioned kubelet (no Lease renewal, no status, no pod work) so the
node-lifecycle controller's reaction can be observed.

`after_start` is what `pocketkube start` runs once the API is ready: it waits
a little for the profile's first nodes to become Ready. (The node agent's
identity, user system:node-agent in group system:nodes, is bound to the
system:node ClusterRole by the apiserver's bootstrap policy.)
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import sys
import time
from typing import Any, NoReturn
from urllib.parse import quote

import click

from pocketkube.cli.profile import DEFAULT_PROFILE, Profile, ProfileError, Settings

SIMULATED_LABEL = "pocketkube.io/simulated"
HEARTBEAT_ANNOTATION = "pocketkube.io/simulate-heartbeat"
READY_TIMEOUT = 60.0
START_WAIT = 30.0
DEFAULT_NODES = 1
Obj = dict[str, Any]


class NodeCommandError(Exception):
    pass


class AdminApi:
    """Tiny synchronous JSON client of one profile's API with the admin certificate."""

    def __init__(self, profile: Profile, port: int) -> None:
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(profile.pki_dir / "ca.crt"))
        self.ctx.load_cert_chain(str(profile.pki_dir / "admin.crt"), str(profile.pki_dir / "admin.key"))

    def call(self, method: str, path: str, body: Any = None,
             content_type: str = "application/json") -> tuple[int, Obj]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as e:
            raise NodeCommandError(f"cannot reach the API server: {e}") from None
        finally:
            conn.close()
        try:
            obj = json.loads(raw) if raw else {}
        except ValueError:
            obj = {"message": raw.decode(errors="replace")}
        return resp.status, obj if isinstance(obj, dict) else {}

    def nodes(self) -> list[Obj]:
        code, obj = self.call("GET", "/api/v1/nodes")
        if code != 200:
            raise NodeCommandError(f"listing nodes failed: {obj.get('message', code)}")
        return list(obj.get("items") or [])


def _is_simulated(node: Obj) -> bool:
    return ((node.get("metadata") or {}).get("labels") or {}).get(SIMULATED_LABEL) == "true"


def _ready(node: Obj) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return "Ready" if c.get("status") == "True" else "NotReady"
    return "Unknown"


def skeleton(name: str, capacity: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {SIMULATED_LABEL: "true"}},
            "status": {"capacity": dict(capacity), "allocatable": dict(capacity)}}


def next_names(existing: list[str], prefix: str, count: int, first: int) -> list[str]:
    """`count` names PREFIX<NN> after the highest number already used with that prefix."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    used = [int(m.group(1)) for n in existing for m in [pattern.match(n)] if m]
    start = max([first - 1, *used]) + 1
    return [f"{prefix}{i:02d}" for i in range(start, start + count)]


def wait_ready(api: AdminApi, names: list[str], timeout: float) -> list[str]:
    """Poll until every named node is Ready; returns the names still not Ready at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        ready = {n["metadata"]["name"] for n in api.nodes() if _ready(n) == "Ready"}
        missing = [n for n in names if n not in ready]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.1)


def after_start(profile: Profile, settings: Settings) -> None:
    """Run by `pocketkube start` once the API is ready (see the module docstring)."""
    api = AdminApi(profile, settings.apiserver_port)
    count = int(settings.extra.get("nodes", DEFAULT_NODES))
    names = [profile.name if i == 1 else f"{profile.name}-m{i:02d}" for i in range(1, count + 1)]
    if (profile.dir / "kubelet" / "bootstrap.json").exists():  # later starts: only the nodes still there
        existing = {n["metadata"]["name"] for n in api.nodes()}
        names = [n for n in names if n in existing]
    if names:
        wait_ready(api, names, START_WAIT)


# ---------------------------------------------------------------------- click commands

def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _api(profile_name: str) -> tuple[Profile, AdminApi]:
    profile = Profile(profile_name)
    try:
        settings = profile.load()
    except ProfileError as e:
        _fail(str(e))
    if not profile.running():
        _fail(f'cluster "{profile_name}" is not running. Run "pocketkube start -p {profile_name}"')
    return profile, AdminApi(profile, settings.apiserver_port)


profile_option = click.option("--profile", "-p", default=DEFAULT_PROFILE, show_default=True,
                              help="Name of the cluster profile.")


@click.group("node")
def node() -> None:
    """Add, list and remove the cluster's nodes."""


@node.command("add")
@profile_option
@click.option("--simulated", is_flag=True, help="Add simulated (kwok-style) nodes: no containers run.")
@click.option("--count", type=click.IntRange(1, 3000), default=1, show_default=True)
@click.option("--cpu", default="4", show_default=True, help="CPU capacity of each node.")
@click.option("--memory", default="8Gi", show_default=True, help="Memory capacity of each node.")
@click.option("--pods", default="110", show_default=True, help="Pod capacity of each node.")
@click.option("--name-prefix", default="", help="Node names are PREFIXnn (default: PROFILE-m, so PROFILE-m02).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the nodes are Ready.")
def add(profile: str, simulated: bool, count: int, cpu: str, memory: str, pods: str, name_prefix: str,
        wait: bool) -> None:
    """Add nodes to a running cluster."""
    if not simulated:
        _fail("only simulated nodes can be added for now: use --simulated")
    p, api = _api(profile)
    prefix = name_prefix or f"{p.name}-m"
    names = next_names([n["metadata"]["name"] for n in api.nodes()], prefix, count, 2 if not name_prefix else 1)
    capacity = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    for name in names:
        code, obj = api.call("POST", "/api/v1/nodes", skeleton(name, capacity))
        if code not in (200, 201):
            _fail(f"creating node {name} failed: {obj.get('message', code)}")
    if wait:
        missing = wait_ready(api, names, READY_TIMEOUT)
        if missing:
            _fail(f"nodes not Ready after {READY_TIMEOUT:.0f}s: {', '.join(missing)} (is the node agent running? "
                  f"see `pocketkube logs -p {p.name} node-agent`)")
    for name in names:
        click.echo(f"node/{name} added")


@node.command("list")
@profile_option
def list_nodes(profile: str) -> None:
    """List the cluster's nodes and how they are served."""
    _, api = _api(profile)
    rows = [("NAME", "STATUS", "TYPE", "HEARTBEAT", "CPU", "MEMORY", "PODS", "POD-CIDR")]
    for n in sorted(api.nodes(), key=lambda n: str(n["metadata"]["name"])):
        meta, status = n.get("metadata") or {}, n.get("status") or {}
        cap = status.get("capacity") or {}
        stopped = (meta.get("annotations") or {}).get(HEARTBEAT_ANNOTATION) == "stopped"
        rows.append((meta.get("name", ""), _ready(n), "simulated" if _is_simulated(n) else "real",
                     "stopped" if stopped else "running", str(cap.get("cpu", "")), str(cap.get("memory", "")),
                     str(cap.get("pods", "")), str((n.get("spec") or {}).get("podCIDR") or "<none>")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _simulated_node(api: AdminApi, name: str) -> Obj:
    code, obj = api.call("GET", f"/api/v1/nodes/{quote(name, safe='')}")
    if code == 404:
        _fail(f'node "{name}" not found')
    if code != 200:
        _fail(f"reading node {name} failed: {obj.get('message', code)}")
    if not _is_simulated(obj):
        _fail(f'node "{name}" is not a simulated node')
    return obj


@node.command("remove")
@profile_option
@click.argument("names", nargs=-1, required=True)
def remove(profile: str, names: tuple[str, ...]) -> None:
    """Remove simulated nodes (their pods are left to the pod garbage collector)."""
    _, api = _api(profile)
    for name in names:
        _simulated_node(api, name)
        code, obj = api.call("DELETE", f"/api/v1/nodes/{quote(name, safe='')}")
        if code not in (200, 202, 404):
            _fail(f"deleting node {name} failed: {obj.get('message', code)}")
        api.call("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{quote(name, safe='')}")
        click.echo(f"node/{name} removed")


def _set_heartbeat(profile: str, name: str, stopped: bool) -> None:
    _, api = _api(profile)
    _simulated_node(api, name)
    patch = {"metadata": {"annotations": {HEARTBEAT_ANNOTATION: "stopped" if stopped else None}}}
    code, obj = api.call("PATCH", f"/api/v1/nodes/{quote(name, safe='')}", patch, "application/merge-patch+json")
    if code != 200:
        _fail(f"updating node {name} failed: {obj.get('message', code)}")


@node.command("stop-heartbeat")
@profile_option
@click.argument("name")
def stop_heartbeat(profile: str, name: str) -> None:
    """Make a simulated node silent, like a partitioned kubelet: its Lease goes stale."""
    _set_heartbeat(profile, name, True)
    click.echo(f"node/{name} heartbeat stopped")


@node.command("resume-heartbeat")
@profile_option
@click.argument("name")
def resume_heartbeat(profile: str, name: str) -> None:
    """Let a silenced simulated node renew its Lease and post status again."""
    _set_heartbeat(profile, name, False)
    click.echo(f"node/{name} heartbeat resumed")
