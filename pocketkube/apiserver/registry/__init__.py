"""The strategy of every built-in kind, looked up by (group, kind).

Each group module in this package exports `STRATEGIES: dict[str, Strategy]`
(kind -> strategy). A kind without an entry gets a generic strategy chosen from
its schema: kinds without a `status` field get no status handling and no
generation tracking (ConfigMap-like), the rest the spec/status default.
"""

from __future__ import annotations

import functools

from pocketkube.api import schema
from pocketkube.apiserver.strategy import NoStatusStrategy, Strategy


@functools.cache
def _table() -> dict[tuple[str, str], Strategy]:
    from pocketkube.apiserver.registry import groups

    table: dict[tuple[str, str], Strategy] = {}
    for group, module in groups.MODULES.items():
        for kind, strategy in module.STRATEGIES.items():
            table[(group, kind)] = strategy
    return table


_DEFAULT = Strategy()
_NO_STATUS = NoStatusStrategy()


def strategy_for(group: str, kind: str, version: str = "v1") -> Strategy:
    found = _table().get((group, kind))
    if found is not None:
        return found
    definition = schema.get_schema().for_gvk(group, version, kind)
    if definition is not None and "status" not in definition.properties:
        return _NO_STATUS
    return _DEFAULT
