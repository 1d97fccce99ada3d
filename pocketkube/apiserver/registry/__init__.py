"""The strategy of every built-in kind, looked up by (group, kind).

Each group module in this package exports `STRATEGIES: dict[str, Strategy]`
(kind -> strategy). Kinds without an entry use the generic `Strategy`.
"""

from __future__ import annotations

import functools

from pocketkube.apiserver.strategy import Strategy


@functools.cache
def _table() -> dict[tuple[str, str], Strategy]:
    from pocketkube.apiserver.registry import groups

    table: dict[tuple[str, str], Strategy] = {}
    for group, module in groups.MODULES.items():
        for kind, strategy in module.STRATEGIES.items():
            table[(group, kind)] = strategy
    return table


_DEFAULT = Strategy()


def strategy_for(group: str, kind: str) -> Strategy:
    return _table().get((group, kind), _DEFAULT)
