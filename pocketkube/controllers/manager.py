"""The controller-manager: runs every enabled controller over shared informers.

Theory of operation: controllers are registered by name in CONTROLLERS; the
manager builds the enabled ones with one REST client and one InformerFactory,
then runs the informers and all controllers in one TaskGroup until cancelled.
With leader election (the default, as kube-controller-manager) they only run
while this process holds the kube-system/kube-controller-manager Lease; when
leadership is lost they are cancelled and the process campaigns again with
fresh informers (upstream exits and is restarted, which is the same to
observers). On shutdown the Lease is released so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pocketkube.client.events import EventRecorder
from pocketkube.client.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from pocketkube.client.rest import RESTClient
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.deployment.controller import DeploymentController
from pocketkube.controllers.garbagecollector.collector import GarbageCollector, GarbageCollectorSettings
from pocketkube.controllers.namespace import NamespaceController
from pocketkube.controllers.nodelifecycle import NodeLifecycleController, NodeLifecycleSettings
from pocketkube.controllers.podgc import PodGCController, PodGCSettings
from pocketkube.controllers.replicaset import ReplicaSetController
from pocketkube.controllers.rootcacert import RootCACertPublisher
from pocketkube.controllers.serviceaccount import ServiceAccountController
from pocketkube.controllers.tainteviction import TaintEvictionController

log = logging.getLogger("pocketkube.controllers.manager")


@dataclass
class Options:
    """What controllers need besides the API client."""

    root_ca_pem: str = ""
    leader_elect: bool = True
    lease_name: str = "kube-controller-manager"
    lease_namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""  # default <hostname>_<uuid>
    gc: GarbageCollectorSettings = field(default_factory=GarbageCollectorSettings)
    node_lifecycle: NodeLifecycleSettings = field(default_factory=NodeLifecycleSettings)
    pod_gc: PodGCSettings = field(default_factory=PodGCSettings)


CONTROLLERS: dict[str, Callable[[RESTClient, InformerFactory, Options], Controller]] = {
    "namespace": lambda c, f, o: NamespaceController(c, f),
    "serviceaccount": lambda c, f, o: ServiceAccountController(c, f),
    "root-ca-cert-publisher": lambda c, f, o: RootCACertPublisher(c, f, o.root_ca_pem),
    "garbage-collector": lambda c, f, o: GarbageCollector(c, f, o.gc),
    "node-lifecycle": lambda c, f, o: NodeLifecycleController(c, f, o.node_lifecycle),
    "taint-eviction": lambda c, f, o: TaintEvictionController(c, f),
    "pod-garbage-collector": lambda c, f, o: PodGCController(c, f, o.pod_gc),
    "replicaset": lambda c, f, o: ReplicaSetController(c, f),
    "deployment": lambda c, f, o: DeploymentController(c, f),
}


async def run(client: RESTClient, enabled: list[str] | None = None, options: Options | None = None) -> None:
    opts = options or Options()
    names = enabled or list(CONTROLLERS)
    if not opts.leader_elect:
        await run_controllers(client, names, opts)
        return
    config = LeaderElectionConfig(opts.lease_name, opts.lease_namespace, opts.identity or default_identity(),
                                  opts.lease_duration, opts.renew_deadline, opts.retry_period)
    recorder = EventRecorder(client, "kube-controller-manager")
    elector = LeaderElector(client, config, on_started_leading=lambda: run_controllers(client, names, opts),
                            recorder=recorder)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(recorder.run(), name="leader-election-events")
        try:
            while True:
                await elector.run()
                log.warning("leaderelection lost; campaigning again")
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder.flush(), 2.0)


async def run_controllers(client: RESTClient, names: list[str], opts: Options) -> None:
    factory = InformerFactory(client)
    controllers = [CONTROLLERS[n](client, factory, opts) for n in names]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(factory.run(), name="informers")
        for c in controllers:
            tg.create_task(c.run(), name=c.name)
