"""machinery/taints.py: the taint and toleration rules shared by the scheduler and the controllers."""

from __future__ import annotations

from pocketkube.machinery import taints as tn

NO_EXEC = {"key": "k", "value": "v", "effect": "NoExecute"}
PREFER = {"key": "p", "effect": "PreferNoSchedule"}


def test_taints_match_on_key_and_effect() -> None:
    assert tn.matches({"key": "k", "effect": "NoExecute", "value": "x"}, NO_EXEC)
    assert not tn.matches({"key": "k", "effect": "NoSchedule"}, NO_EXEC)
    assert tn.has_taint([PREFER, NO_EXEC], {"key": "k", "effect": "NoExecute"})
    assert tn.taints_of(None) == [] and tn.taints_of({"spec": {"taints": [PREFER]}}) == [PREFER]
    assert tn.no_execute([PREFER, NO_EXEC]) == [NO_EXEC]


def test_tolerations() -> None:
    assert tn.tolerates({"operator": "Exists"}, NO_EXEC)
    assert tn.tolerates({"key": "k", "value": "v"}, NO_EXEC)
    assert not tn.tolerates({"key": "k", "value": "w"}, NO_EXEC)
    assert not tn.tolerates({"key": "k", "operator": "Gt"}, NO_EXEC)
    assert not tn.tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, NO_EXEC)


def test_find_untolerated_only_looks_at_the_given_effects() -> None:
    assert tn.find_untolerated([PREFER, NO_EXEC], []) is NO_EXEC
    assert tn.find_untolerated([PREFER], []) is None
    assert tn.find_untolerated([PREFER], [], effects=(tn.PREFER_NO_SCHEDULE,)) is PREFER
    assert tn.find_untolerated([NO_EXEC], [{"key": "k", "operator": "Exists"}]) is None


def test_matching_tolerations_takes_the_first_match_per_taint() -> None:
    first, second = {"operator": "Exists"}, {"key": "k", "operator": "Exists"}
    assert tn.matching_tolerations([NO_EXEC, PREFER], [first, second]) == (True, [first, first])
    assert tn.matching_tolerations([NO_EXEC, PREFER], [second]) == (False, [])
