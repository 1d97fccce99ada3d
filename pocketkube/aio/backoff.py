"""Jittered exponential backoff (the shape client-go and the kubelet use)."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 2.0, jitter: float = 0.1,
                 rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.current = initial
        self.rng = rng or random.Random()

    def next(self) -> float:
        """The delay to wait now; the following one will be longer, up to `maximum`."""
        delay = self.current
        self.current = min(self.current * self.factor, self.maximum)
        return delay * (1 + self.rng.uniform(0, self.jitter))

    def reset(self) -> None:
        self.current = self.initial
