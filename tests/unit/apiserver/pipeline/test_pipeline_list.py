"""LIST end to end (in process): selectors, paging with continue tokens, resourceVersion semantics."""

from __future__ import annotations

from typing import Any

import pytest

from pocketkube.api import labels
from pocketkube.apiserver import listing
from pocketkube.apiserver.store import ListOptions
from pocketkube.machinery.errors import StatusError


async def names(api: Any, namespace: str = "default", **opts: Any) -> tuple[list[str], int, str]:
    entries, rev, cont = await listing.list_entries(api.store("configmaps"), namespace, ListOptions(**opts))
    return [e.obj["metadata"]["name"] for e in entries], rev, cont


async def seed(api: Any) -> None:
    for i in range(5):
        await api.create("configmaps", {"metadata": {"name": f"cm{i}", "labels": {"i": str(i),
                                                                                  "even": str(i % 2 == 0)}}})


async def test_list_whole_and_by_selector(api: Any) -> None:
    await seed(api)
    all_names, rev, cont = await names(api)
    assert all_names == [f"cm{i}" for i in range(5)]
    assert rev == await api.revision()
    assert cont == ""
    even, _, _ = await names(api, label_selector=labels.parse_label_selector("even=True"))
    assert even == ["cm0", "cm2", "cm4"]
    big, _, _ = await names(api, label_selector=labels.parse_label_selector("i>2"))
    assert big == ["cm3", "cm4"]
    one, _, _ = await names(api, field_selector=labels.parse_field_selector("metadata.name=cm1"))
    assert one == ["cm1"]
    none, _, _ = await names(api, namespace="kube-public")
    assert none == []


async def test_paging_is_one_consistent_snapshot(api: Any) -> None:
    await seed(api)
    even = labels.parse_label_selector("even=True")
    page1, rev1, cont = await names(api, label_selector=even, limit=2)
    assert page1 == ["cm0", "cm2"]
    assert listing.decode_continue(cont) == (rev1, "cm2")  # relative to the list's key prefix
    await api.create("configmaps", {"metadata": {"name": "cm3a", "labels": {"even": "True"}}})  # after the snapshot
    page2, rev2, cont2 = await names(api, label_selector=even, limit=2, continue_token=cont)
    assert (page2, rev2, cont2) == (["cm4"], rev1, "")


async def test_paging_across_namespaces(api: Any) -> None:
    await api.namespace("other")
    await seed(api)
    await api.create("configmaps", {"metadata": {"name": "x"}}, namespace="other")
    first, _, cont = await names(api, namespace="", limit=3, label_selector=labels.parse_label_selector("i"))
    assert first == ["cm0", "cm1", "cm2"]
    rest, _, end = await names(api, namespace="", limit=3, label_selector=labels.parse_label_selector("i"),
                               continue_token=cont)
    assert (rest, end) == (["cm3", "cm4"], "")


async def test_exact_resource_version(api: Any) -> None:
    await api.create("configmaps", {"metadata": {"name": "a"}})
    rev = await api.revision()
    await api.create("configmaps", {"metadata": {"name": "b"}})
    old, at, _ = await names(api, resource_version=str(rev), resource_version_match="Exact")
    assert at == rev
    assert "a" in old and "b" not in old
    current, _, _ = await names(api, resource_version=str(rev), resource_version_match="NotOlderThan")
    assert "b" in current


async def test_resource_version_errors(api: Any) -> None:
    future = await api.revision() + 1000
    with pytest.raises(StatusError) as e:
        await names(api, resource_version=str(future), resource_version_match="Exact")
    assert e.value.code == 504
    assert e.value.message.startswith(f"Too large resource version: {future}")
    with pytest.raises(StatusError) as e:
        await names(api, resource_version="abc", resource_version_match="Exact")
    assert (e.value.code, e.value.message) == (400, 'invalid resource version "abc"')
    with pytest.raises(StatusError) as e:
        await names(api, resource_version="5", continue_token=listing.encode_continue(5, "default/a"))
    assert e.value.message == "specifying resource version is not allowed when using continue"


async def test_continue_after_compaction_is_410(api: Any) -> None:
    await seed(api)
    _, _, cont = await names(api, limit=2)
    await api.create("configmaps", {"metadata": {"name": "later"}})
    await api.server.store.compact(await api.revision())
    with pytest.raises(StatusError) as e:
        await names(api, limit=2, continue_token=cont)
    assert (e.value.code, e.value.reason) == (410, "Expired")
    assert e.value.message == listing.EXPIRED_CONTINUE
