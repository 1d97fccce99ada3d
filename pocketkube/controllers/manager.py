"""The controller-manager: runs every enabled controller over shared informers.

Theory of operation: controllers are registered by name in CONTROLLERS; the
manager builds the enabled ones with one REST client and one InformerFactory,
then runs the informers and all controllers in one TaskGroup until cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from pocketkube.client.rest import RESTClient
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.namespace import NamespaceController
from pocketkube.controllers.rootcacert import RootCACertPublisher
from pocketkube.controllers.serviceaccount import ServiceAccountController


@dataclass
class Options:
    """What controllers need besides the API client."""

    root_ca_pem: str = ""


CONTROLLERS: dict[str, Callable[[RESTClient, InformerFactory, Options], Controller]] = {
    "namespace": lambda c, f, o: NamespaceController(c, f),
    "serviceaccount": lambda c, f, o: ServiceAccountController(c, f),
    "root-ca-cert-publisher": lambda c, f, o: RootCACertPublisher(c, f, o.root_ca_pem),
}


async def run(client: RESTClient, enabled: list[str] | None = None, options: Options | None = None) -> None:
    factory = InformerFactory(client)
    opts = options or Options()
    names = enabled or list(CONTROLLERS)
    controllers = [CONTROLLERS[n](client, factory, opts) for n in names]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(factory.run(), name="informers")
        for c in controllers:
            tg.create_task(c.run(), name=c.name)
