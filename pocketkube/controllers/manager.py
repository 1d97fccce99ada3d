"""The controller-manager: runs every enabled controller over shared informers.

Theory of operation: controllers are registered by name in CONTROLLERS; the
manager builds the enabled ones with one REST client and one InformerFactory,
then runs the informers and all controllers in one TaskGroup until cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pocketkube.client.rest import RESTClient
from pocketkube.controllers.base import Controller, InformerFactory
from pocketkube.controllers.namespace import NamespaceController
from pocketkube.controllers.serviceaccount import ServiceAccountController

CONTROLLERS: dict[str, Callable[[RESTClient, InformerFactory], Controller]] = {
    "namespace": NamespaceController,
    "serviceaccount": ServiceAccountController,
}


async def run(client: RESTClient, enabled: list[str] | None = None) -> None:
    factory = InformerFactory(client)
    names = enabled or list(CONTROLLERS)
    controllers = [CONTROLLERS[n](client, factory) for n in names]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(factory.run(), name="informers")
        for c in controllers:
            tg.create_task(c.run(), name=c.name)
