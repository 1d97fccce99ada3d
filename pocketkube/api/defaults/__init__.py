"""Per-type defaulting rules (upstream SetDefaults_<Type>), keyed by definition name.

Theory of operation: upstream defaulting is type-based: SetDefaults_PodSpec runs
wherever a PodSpec appears (in a Pod, a Deployment's template, a Job's ...).
Modules in this package register plain functions for OpenAPI definition names
with `@defaults_for(...)`; `api/structural.py` walks an object with its schema and
calls the registered functions for every node of that type, parent before
children, so a default that creates a child object gets that child defaulted too.
Functions mutate the dict they are given and must tolerate missing keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Defaulter = Callable[[dict[str, Any]], None]

DEFAULTERS: dict[str, list[Defaulter]] = {}


def defaults_for(*definition_names: str) -> Callable[[Defaulter], Defaulter]:
    """Register a defaulting function for one or more definition names."""

    def register(fn: Defaulter) -> Defaulter:
        for name in definition_names:
            DEFAULTERS.setdefault(name, []).append(fn)
        return fn

    return register


def load_all() -> dict[str, list[Defaulter]]:
    """Import every rules module once so their registrations run."""
    from pocketkube.api.defaults import rules  # noqa: F401

    return DEFAULTERS
