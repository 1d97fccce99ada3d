"""group name -> the registry module holding that group's strategies."""

from __future__ import annotations

from types import ModuleType

MODULES: dict[str, ModuleType] = {}
