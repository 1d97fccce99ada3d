"""The whole agent against the fake API in virtual time: registration, Leases, pods, partition, removal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketkube.client import virtualtime
from pocketkube.client.fake import FakeClient
from pocketkube.client.rest import ResourceRef
from pocketkube.kubelet import nodestatus
from pocketkube.kubelet.agent import Agent, AgentOptions, bootstrap_names
from pocketkube.kubelet.timefmt import parse_time

NODES = ResourceRef("", "v1", "nodes", namespaced=False)
PODS = ResourceRef("", "v1", "pods")
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
Obj = dict[str, Any]


async def until(predicate: Callable[[], Any], seconds: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in virtual time")


def ready(fake: FakeClient, name: str) -> bool:
    node = fake.object(NODES, name) or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def pod(name: str, node: str, **annotations: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations},
            "spec": {"nodeName": node, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"}]},
            "status": {"phase": "Pending"}}


def phase(fake: FakeClient, name: str) -> str:
    return str(((fake.object(PODS, name, "default") or {}).get("status") or {}).get("phase") or "")


def renew_time(fake: FakeClient, name: str) -> float:
    lease = fake.object(LEASES, name, "kube-node-lease") or {}
    return parse_time(str((lease.get("spec") or {}).get("renewTime") or "")) or 0.0


def test_bootstrap_names_are_minikube_style() -> None:
    assert bootstrap_names("dev", 3) == ("dev", "dev-m02", "dev-m03")
    assert bootstrap_names("dev", 0) == ()


def test_agent_end_to_end(tmp_path: Path) -> None:
    async def main() -> None:
        fake = FakeClient()
        fake.add(NODES, {"metadata": {"name": "real"}, "spec": {"podCIDR": "10.244.0.0/24"}})
        agent = Agent(fake, AgentOptions(bootstrap_nodes=("dev", "dev-m02"), state_dir=tmp_path))
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(agent.run())
            await until(lambda: ready(fake, "dev") and ready(fake, "dev-m02"))
            dev = fake.object(NODES, "dev") or {}
            assert dev["spec"]["podCIDR"] == "10.244.1.0/24"  # 10.244.0.0/24 was taken by "real"
            assert dev["metadata"]["labels"]["kubernetes.io/hostname"] == "dev"
            assert dev["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.4"
            assert {"type": "InternalIP", "address": "10.89.0.3"} in dev["status"]["addresses"]
            assert (fake.object(NODES, "dev-m02") or {})["spec"]["podCIDR"] == "10.244.2.0/24"
            assert "real" not in agent.nodes.hosted
            assert (tmp_path / "bootstrap.json").read_text().strip() == '["dev", "dev-m02"]'

            await fake.create(PODS, pod("web", "dev"), "default")
            await until(lambda: phase(fake, "web") == "Running")
            web = fake.object(PODS, "web", "default") or {}
            assert web["status"]["podIP"].startswith("10.244.1.")
            assert web["status"]["hostIP"] == "10.89.0.3"
            patches = [a for a in fake.actions if a.resource_name == "pods/status"]
            assert all(a.body["metadata"]["uid"] == web["metadata"]["uid"] for a in patches)
            assert len(patches) <= 2

            first = renew_time(fake, "dev")
            await asyncio.sleep(11)
            assert renew_time(fake, "dev") > first

            await fake.patch(NODES, "dev", {"metadata": {"annotations": {
                nodestatus.HEARTBEAT_ANNOTATION: nodestatus.HEARTBEAT_STOPPED}}})
            await asyncio.sleep(1)
            stale = renew_time(fake, "dev")
            await asyncio.sleep(45)
            assert renew_time(fake, "dev") == stale  # partitioned: the lease goes stale
            assert renew_time(fake, "dev-m02") > stale  # the other node keeps heartbeating
            await fake.patch(NODES, "dev", {"metadata": {"annotations": {nodestatus.HEARTBEAT_ANNOTATION: None}}})
            await until(lambda: renew_time(fake, "dev") > stale)

            # graceful deletion: the finalizer keeps the object so the test can look at the final status
            await fake.patch(PODS, "web", {"metadata": {"finalizers": ["test/hold"]}}, "default")
            await fake.delete(PODS, "web", "default")
            marked = fake.object(PODS, "web", "default") or {}
            marked["metadata"]["deletionGracePeriodSeconds"] = 30
            fake.tracker.update(PODS, marked, raw=True)
            await until(lambda: any(a.verb == "delete" and a.resource.plural == "pods" and a.body and
                                    a.body.get("gracePeriodSeconds") == 0 for a in fake.actions))
            confirm = [a for a in fake.actions if a.verb == "delete" and a.resource.plural == "pods"][-1]
            assert confirm.body["preconditions"] == {"uid": web["metadata"]["uid"]}
            assert phase(fake, "web") == "Succeeded"

            await fake.delete(NODES, "dev-m02")
            await until(lambda: fake.object(LEASES, "dev-m02", "kube-node-lease") is None)
            assert agent.statistics()["nodes_serving"] == 1
            task.cancel()
    virtualtime.run(main())


def test_bootstrap_happens_once(tmp_path: Path) -> None:
    (tmp_path / "bootstrap.json").write_text('["dev"]')

    async def main() -> None:
        fake = FakeClient()
        agent = Agent(fake, AgentOptions(bootstrap_nodes=("dev", "dev-m02"), state_dir=tmp_path))
        await agent.bootstrap()
        assert [n["metadata"]["name"] for n in fake.objects(NODES)] == ["dev-m02"]
    virtualtime.run(main())


def test_many_nodes_renew_steadily() -> None:
    async def main() -> None:
        fake = FakeClient()
        for i in range(60):
            fake.add(NODES, nodestatus.skeleton(f"n{i:02d}"))
        agent = Agent(fake, AgentOptions())
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(agent.run())
            await until(lambda: len(agent.nodes.serving()) == 60)
            await asyncio.sleep(30)
            fake.clear_actions()
            worst = 0.0
            for _ in range(40):
                await asyncio.sleep(0.5)
                wall_now = max(renew_time(fake, f"n{i:02d}") for i in range(60))
                worst = max(worst, max(wall_now - renew_time(fake, f"n{i:02d}") for i in range(60)))
            renewals = [a for a in fake.actions if a.verb == "update" and a.resource.plural == "leases"]
            assert 100 <= len(renewals) <= 140  # 60 nodes x 20 s / 10 s
            assert worst <= 10.5
            cidrs = {(fake.object(NODES, f"n{i:02d}") or {})["spec"]["podCIDR"] for i in range(60)}
            assert len(cidrs) == 60
            task.cancel()
    virtualtime.run(main())
