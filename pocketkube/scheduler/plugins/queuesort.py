"""PrioritySort: the activeQ order -- higher spec.priority first, then the earlier queue timestamp.

Pure code: `sort_key` returns a tuple the queue's heap orders ascending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketkube.scheduler.podinfo import PodInfo

NAME = "PrioritySort"


def sort_key(pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
    return (-pod.priority, timestamp)


class PrioritySort:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Any) -> None:
        pass

    def sort_key(self, pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
        return sort_key(pod, timestamp)
