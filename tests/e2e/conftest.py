"""Fixtures of the e2e tests: a real node stack (containerd, runc, CNI) per test, host restored after.

`node` starts the node agent's runtime stack in a temp folder (a private containerd, the local
registry with busybox and pause, CNI bridge cni0 on 10.244.0.0/24) and tears it down after the
test, failing the test if anything of it is left (processes, mounts, netns, cgroups).
`host_state` (session) snapshots the host before the first node and, at the end, deletes what
the pods left host-wide: the cni0 bridge, the CNI nat chains, ip_forward.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from nodekit import Node, require_e2e

from pocketkube.kubelet.hostcleanup import HostSnapshot, restore_host, snapshot_host


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: needs root, containerd, runc and the CNI plugins (real pods)")


@pytest.fixture(scope="session")
def host_state() -> Iterator[HostSnapshot]:
    require_e2e()
    before = snapshot_host()
    yield before
    restore_host(before)


@pytest.fixture
async def node(host_state: HostSnapshot) -> AsyncIterator[Node]:
    n = await Node.start()
    yield n
    left = await n.teardown()
    assert left == [], f"the node left these behind: {left}"
