"""Every served group has a registry module with a strategy for each of its kinds."""

from __future__ import annotations

from pocketkube.api.scheme import SCHEME
from pocketkube.apiserver.registry import groups, strategy_for
from pocketkube.apiserver.registry.apps import DeploymentStrategy


def test_every_group_and_kind_has_a_strategy() -> None:
    assert set(groups.MODULES) == set(SCHEME.groups())
    for r in SCHEME.resources:
        if r.group:
            assert r.kind in groups.MODULES[r.group].STRATEGIES, (r.group, r.kind)


def test_lookup() -> None:
    assert isinstance(strategy_for("apps", "Deployment"), DeploymentStrategy)
