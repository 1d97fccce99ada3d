from __future__ import annotations

from pocketkube.kubelet.duequeue import DueQueue


def test_earliest_time_wins_and_keys_pop_once() -> None:
    q = DueQueue()
    q.schedule("a", 10.0)
    q.schedule("b", 5.0)
    q.schedule("a", 20.0)  # later: ignored
    q.schedule("b", 1.0)   # earlier: supersedes
    assert len(q) == 2 and "a" in q
    assert q.next_due() == 1.0
    assert q.pop_due(0.5) == []
    assert q.pop_due(9.0) == ["b"]
    assert q.pop_due(100.0) == ["a"]
    assert q.next_due() is None and len(q) == 0


def test_discard_and_limit() -> None:
    q = DueQueue()
    for i in range(5):
        q.schedule(f"k{i}", float(i))
    q.discard("k0")
    assert q.pop_due(10.0, limit=2) == ["k1", "k2"]
    assert q.pop_due(10.0) == ["k3", "k4"]
    q.schedule("k1", 3.0)
    q.discard("k1")
    q.schedule("k1", 3.0)
    assert q.pop_due(3.0) == ["k1"]
    assert q.pop_due(3.0) == []
