"""Caches and shortcuts of the write pipeline, against the real watch cache and store.

- RBAC decisions follow writes to Roles, ClusterRoles and bindings at once.
- A status patch skips decoding the unchanged spec, with the same result as a full decode,
  and a status patch that does touch the spec is still type-checked.
- generateName collisions are retried with new suffixes (RetryGenerateName, GA in 1.32).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pocketkube.apiserver import deletion, objectmeta, patching, store
from pocketkube.apiserver.auth import Attributes
from pocketkube.apiserver.context import UserInfo
from pocketkube.apiserver.deletion import DeleteOptions
from pocketkube.machinery.errors import StatusError

Obj = dict[str, Any]
G = "rbac.authorization.k8s.io"
ALICE = UserInfo("alice", ("system:authenticated",))
GET_POD = Attributes(verb="get", resource_request=True, namespace="default", resource="pods", name="p")


async def allowed(api: Any, attrs: Attributes = GET_POD) -> bool:
    ok, _ = await api.server.authorizer.authorize(ALICE, attrs)
    return ok


async def test_rbac_follows_binding_and_role_writes(api: Any) -> None:
    assert not await allowed(api)
    await api.create("roles", {"metadata": {"name": "r"}, "rules": [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}, group=G)
    await api.create("rolebindings", {"metadata": {"name": "b"},
                                      "roleRef": {"apiGroup": G, "kind": "Role", "name": "r"},
                                      "subjects": [{"apiGroup": G, "kind": "User", "name": "alice"}]}, group=G)
    assert await allowed(api)
    listing = Attributes(verb="list", resource_request=True, namespace="default", resource="pods")
    assert not await allowed(api, listing)
    role = await api.get("roles", "r", group=G)
    role["rules"][0]["verbs"] = ["get", "list"]
    await api.store("roles", G).update("default", "r", role, api.ctx())
    await api.settle()
    assert await allowed(api, listing)
    await deletion.delete(api.store("rolebindings", G), "default", "b", DeleteOptions(), api.ctx())
    await api.settle()
    assert not await allowed(api)
    assert not await allowed(api, listing)


def pod(name: str = "p") -> Obj:
    return {"metadata": {"name": name}, "spec": {"containers": [{
        "name": "c", "image": "busybox", "resources": {"requests": {"cpu": "0.5", "memory": "16Mi"}},
        "ports": [{"containerPort": 80}]}]}}


STATUS = {"status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [
    {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00+01:00"}]}}


async def test_status_patch_skips_the_unchanged_spec(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await api.service_account()
    await api.create("pods", pod())
    seen: list[frozenset[str]] = []
    real = store._unchanged_fields

    def spy(obj: Obj, known: Obj) -> frozenset[str]:
        seen.append(real(obj, known))
        return seen[-1]

    monkeypatch.setattr(store, "_unchanged_fields", spy)
    out, _ = await api.store("pods").patch("default", "p", patching.STRATEGIC_PATCH, STATUS, api.ctx(),
                                           subresource="status")
    assert "spec" in seen[-1] and "status" not in seen[-1]
    # the changed part is decoded and defaulted as before: time normalised, podIPs from podIP
    assert out["status"]["conditions"][0]["lastTransitionTime"] == "2023-12-31T23:00:00Z"
    assert out["status"]["podIPs"] == [{"ip": "10.0.0.1"}]
    assert out["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "500m"


async def test_status_patch_equals_a_full_decode(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await api.service_account()
    await api.create("pods", pod())
    pods, now = api.store("pods"), datetime.now(UTC)
    fast, _ = await pods.patch("default", "p", patching.STRATEGIC_PATCH, STATUS, api.ctx(dry_run=True, now=now),
                               subresource="status")
    monkeypatch.setattr(store, "_unchanged_fields", lambda obj, known: frozenset())
    full, _ = await pods.patch("default", "p", patching.STRATEGIC_PATCH, STATUS, api.ctx(dry_run=True, now=now),
                               subresource="status")
    assert fast == full and fast["status"]["phase"] == "Running"


async def test_a_changed_spec_is_still_type_checked(api: Any) -> None:
    await api.service_account()
    await api.create("pods", pod())
    with pytest.raises(StatusError) as e:
        await api.store("pods").patch("default", "p", patching.MERGE_PATCH, {"spec": {"containers": "x"}},
                                      api.ctx(), subresource="status")
    assert e.value.code == 400 and "cannot unmarshal string" in e.value.message


async def test_generated_name_collisions_are_retried(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    suffixes = iter(["aaaaa", "aaaaa", "aaaaa", "bbbbb"])
    monkeypatch.setattr(objectmeta, "random_suffix", lambda n=5: next(suffixes))
    first = await api.create("configmaps", {"metadata": {"generateName": "x-"}})
    second = await api.create("configmaps", {"metadata": {"generateName": "x-"}})
    assert (first["metadata"]["name"], second["metadata"]["name"]) == ("x-aaaaa", "x-bbbbb")


async def test_generated_names_give_up_after_eight_attempts(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def same_suffix(n: int = 5) -> str:
        calls.append(n)
        return "aaaaa"

    monkeypatch.setattr(objectmeta, "random_suffix", same_suffix)
    await api.create("configmaps", {"metadata": {"generateName": "x-"}})
    calls.clear()
    with pytest.raises(StatusError) as e:
        await api.create("configmaps", {"metadata": {"generateName": "x-"}})
    assert e.value.code == 409 and len(calls) == store.MAX_NAME_GENERATION_ATTEMPTS
    with pytest.raises(StatusError) as e:  # a name the client chose is never changed
        await api.create("configmaps", {"metadata": {"name": "x-aaaaa", "generateName": "x-"}})
    assert e.value.code == 409


async def test_generate_name_is_cut_to_fit(api: Any) -> None:
    out = await api.create("configmaps", {"metadata": {"generateName": "g" * 70}})
    assert len(out["metadata"]["name"]) == 63 and out["metadata"]["name"].startswith("g" * 58)
