"""kubectl logs/exec/attach/cp/port-forward through the real apiserver to an in-process fake node.

The fake node is the node agent's streaming server (kubelet/server.py) with the
simulated backend, running on its own event loop in a thread of the test
process, over TLS with certificates from the cluster's PKI. A Node object
points at it (daemonEndpoints + InternalIP), pods are bound to it and marked
Running; the real kubectl then goes kubectl -> apiserver -> fake node.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import KUBECTL, Cluster

from pocketkube.cli.pki import PKI
from pocketkube.kubelet.server import serve, server_ssl_context
from pocketkube.kubelet.streaming_sim import SimContainer, SimulatedStreaming

pytestmark = pytest.mark.kubectl


class FakeNode:
    """A streaming server with the simulated backend on a private event loop."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        pki = PKI(cluster.tmp / "state" / cluster.profile / "pki")
        if not pki.pair("apiserver-kubelet-client").cert.exists():
            pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",))
        serving = pki.issue(f"node-{name}", f"system:node:{name}", ("system:nodes",), server=True, ips=("127.0.0.1",))
        ctx = server_ssl_context(str(serving.cert), str(serving.key), str(pki.ca.cert))
        self.backend = SimulatedStreaming(cluster.tmp / "podlogs", dial=self._dial)
        self.echo_port = self.call(self._start_echo())
        self.runner, self.port = self.call(serve(self.backend, "127.0.0.1", 0, ctx))

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def do(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()
        return self.call(run())

    async def _dial(self, namespace: str, pod: str, port: int) -> tuple[str, int]:
        return ("127.0.0.1", self.echo_port) if port == 7777 else ("127.0.0.1", 1)

    async def _start_echo(self) -> int:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()
        self.echo = await asyncio.start_server(echo, "127.0.0.1", 0)
        return int(self.echo.sockets[0].getsockname()[1])

    def close(self) -> None:
        async def stop() -> None:
            self.echo.close()
            await self.runner.cleanup()
        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _apply(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))


@pytest.fixture(scope="module")
def node(cluster: Cluster) -> Iterator[FakeNode]:
    name = f"stream-{uuid.uuid4().hex[:6]}"
    fake = FakeNode(cluster, name)
    try:
        _apply(cluster, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        status = {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                           {"type": "Hostname", "address": name}],
                             "daemonEndpoints": {"kubeletEndpoint": {"Port": fake.port}}}}
        cluster.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
        yield fake
    finally:
        cluster.kubectl("delete", "node", name, "--wait=false", check=False)
        fake.close()


def make_pod(cluster: Cluster, node: FakeNode, ns: str, name: str, containers: tuple[str, ...] = ("app",),
             **container_fields: Any) -> dict[str, SimContainer]:
    spec = {"nodeName": node.name, "containers": [{"name": c, "image": "busybox"} for c in containers]}
    _apply(cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
    statuses = [{"name": c, "ready": True, "restartCount": 0, "image": "busybox", "imageID": "",
                 "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}} for c in containers]
    status = {"status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "10.244.9.9",
                         "containerStatuses": statuses}}
    cluster.kubectl("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    def add_all() -> dict[str, SimContainer]:
        return {c: node.backend.add_container(ns, name, c, **container_fields) for c in containers}
    result: dict[str, SimContainer] = node.do(add_all)
    return result


def test_logs_and_options(cluster: Cluster, node: FakeNode, ns: str) -> None:
    app = make_pod(cluster, node, ns, "logger")["app"]
    node.do(lambda: app.emit(b"one\ntwo\nthree\n"))
    node.do(lambda: app.emit(b"a long line in two ", "stderr"))
    node.do(lambda: app.emit(b"pieces\n", "stderr"))
    out = cluster.kubectl("logs", "logger", "-n", ns).out
    assert out == "one\ntwo\nthree\na long line in two pieces\n"
    assert cluster.kubectl("logs", "logger", "-n", ns, "--tail=2").out == "three\na long line in two pieces\n"
    assert cluster.kubectl("logs", "logger", "-n", ns, "--limit-bytes=6").out == "one\ntw"
    stamped = cluster.kubectl("logs", "logger", "-n", ns, "--timestamps", "--tail=1").out
    stamp, _, text = stamped.partition(" ")
    assert text == "a long line in two pieces\n" and stamp.endswith("Z") and "T" in stamp
    assert cluster.kubectl("logs", "logger", "-n", ns, "--since-time=2999-01-01T00:00:00Z").out == ""
    prev = cluster.kubectl("logs", "logger", "-n", ns, "--previous", check=False)
    assert prev.returncode == 1
    assert 'previous terminated container "app" in pod "logger" not found' in prev.stderr


def test_logs_errors(cluster: Cluster, node: FakeNode, ns: str) -> None:
    make_pod(cluster, node, ns, "two", containers=("a", "b"))
    r = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/two/log", check=False)
    assert "a container name must be specified for pod two, choose one of: [a b]" in r.stderr
    waiting = {"status": {"containerStatuses": [
        {"name": "a", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
         "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    node.do(lambda: setattr(node.backend.containers[(ns, "two", "a")], "state", "waiting"))
    cluster.kubectl("patch", "pod", "two", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(waiting))
    r = cluster.kubectl("logs", "two", "-c", "a", "-n", ns, check=False)
    assert r.returncode == 1
    assert 'Error from server (BadRequest): container "a" in pod "two" is waiting to start: ContainerCreating' in r.stderr


def test_logs_follow(cluster: Cluster, node: FakeNode, ns: str) -> None:
    app = make_pod(cluster, node, ns, "follower")["app"]
    node.do(lambda: app.emit(b"first\n"))
    proc = subprocess.Popen([KUBECTL, "logs", "-f", "follower", "-n", ns], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"first\n"
        node.do(lambda: app.emit(b"second\n"))
        assert proc.stdout.readline() == b"second\n"
        node.do(lambda: app.stop(0))
        assert proc.wait(20) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.wait()


def test_exec(cluster: Cluster, node: FakeNode, ns: str) -> None:
    make_pod(cluster, node, ns, "shell")
    r = cluster.kubectl("exec", "shell", "-n", ns, "--", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    assert "command terminated with exit code 3" in r.stderr
    assert cluster.kubectl("exec", "-i", "shell", "-n", ns, "--", "cat", input="hi\n").out == "hi\n"
    assert cluster.kubectl("exec", "shell", "-n", ns, "--", "hostname").out == "shell\n"
    r = cluster.kubectl("exec", "shell", "-n", ns, "--", "sh", "-c", "echo out; echo err >&2")
    assert (r.out, r.stderr) == ("out\n", "err\n")
    r = cluster.kubectl("exec", "shell", "-n", ns, "--", "nosuch", check=False)
    assert r.returncode == 1 and 'exec: "nosuch": executable file not found in $PATH' in r.stderr
    spdy = cluster.kubectl("exec", "-i", "shell", "-n", ns, "--", "cat", input="via spdy\n",
                           env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert spdy.out == "via spdy\n"
    r = cluster.kubectl("exec", "shell", "-n", ns, "--", "sh", "-c", "exit 4", check=False,
                        env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert r.returncode == 4


def test_unscheduled_pod(cluster: Cluster, node: FakeNode, ns: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "floating", "namespace": ns},
           "spec": {"schedulerName": "nobody", "containers": [{"name": "app", "image": "busybox"}]}}
    _apply(cluster, pod)
    assert cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/floating/log").out == ""
    r = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/floating/exec?command=ls&stdout=true",
                        check=False)
    assert "pod floating does not have a host assigned" in r.stderr


def test_cp(cluster: Cluster, node: FakeNode, ns: str, tmp_path: Path) -> None:
    make_pod(cluster, node, ns, "files")
    local = tmp_path / "f.txt"
    local.write_text("payload\n")
    cluster.kubectl("cp", str(local), f"{ns}/files:/tmp/f.txt")
    assert cluster.kubectl("exec", "files", "-n", ns, "--", "cat", "/tmp/f.txt").out == "payload\n"
    back = tmp_path / "back.txt"
    cluster.kubectl("cp", f"{ns}/files:/tmp/f.txt", str(back))
    assert back.read_text() == "payload\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_port_forward(cluster: Cluster, node: FakeNode, ns: str, websockets: str) -> None:
    make_pod(cluster, node, ns, "web")
    local = _free_port()
    env = {**cluster.env, "KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets}
    proc = subprocess.Popen([KUBECTL, "port-forward", "-n", ns, "pod/web", f"{local}:7777"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert b"Forwarding from 127.0.0.1:" in proc.stdout.readline()
        for payload in (b"hello through the tunnel", os.urandom(1_000_000)):
            with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = bytearray()
                while chunk := s.recv(65536):
                    got += chunk
            assert bytes(got) == payload
    finally:
        proc.terminate()
        proc.wait(10)


def test_attach(cluster: Cluster, node: FakeNode, ns: str) -> None:
    app = make_pod(cluster, node, ns, "console", echo_stdin=True, stdin_once=True)["app"]
    r = cluster.kubectl("attach", "-i", "console", "-n", ns, input="typed\n", timeout=30)
    assert "typed" in r.out
    assert node.do(lambda: app.state) == "terminated"


def test_attach_output(cluster: Cluster, node: FakeNode, ns: str) -> None:
    app = make_pod(cluster, node, ns, "talker")["app"]
    proc = subprocess.Popen([KUBECTL, "attach", "talker", "-n", ns], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while not node.do(lambda: bool(app.attached)):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        node.do(lambda: app.emit(b"live line\n"))
        assert proc.stdout.readline() == b"live line\n"
        node.do(lambda: app.stop(0))
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()


def test_python_client_exec_and_port_forward(cluster: Cluster, node: FakeNode, ns: str) -> None:
    from kubernetes import client
    from kubernetes.stream import portforward, stream

    make_pod(cluster, node, ns, "pyclient")
    with cluster.api_client() as api:
        core = client.CoreV1Api(api)
        out = stream(core.connect_get_namespaced_pod_exec, "pyclient", ns, command=["sh", "-c", "echo from python"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        assert out == "from python\n"
        pf = portforward(core.connect_get_namespaced_pod_portforward, "pyclient", ns, ports="7777")
        sock = pf.socket(7777)
        sock.setblocking(True)
        sock.sendall(b"python forwarded")
        got = b""
        while len(got) < len(b"python forwarded"):
            got += sock.recv(1024)
        assert got == b"python forwarded"
        sock.close()
        pf.close()
