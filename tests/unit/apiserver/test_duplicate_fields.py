"""Duplicate JSON fields are found with upstream's paths (fieldValidation Strict/Warn)."""

from __future__ import annotations

from pocketkube.apiserver import codec


def test_paths_of_duplicates_in_objects_maps_and_list_items() -> None:
    body = (b'{"spec": {"replicas": 1, "replicas": 2, "template": {"spec": {"containers": ['
            b'{"name": "a"}, {"name": "b", "image": "x", "image": "y", "image": "z"}]}}},'
            b' "metadata": {"labels": {"k": "1", "k": "2"}}}')
    assert codec.duplicate_fields("application/json", body) == [
        "spec.replicas", "spec.template.spec.containers[1].image", "metadata.labels.k"]


def test_none_for_clean_bodies_other_media_types_and_malformed_json() -> None:
    assert codec.duplicate_fields("application/json", b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}') == []
    assert codec.duplicate_fields("application/yaml", b"a: 1\na: 2\n") == []
    assert codec.duplicate_fields("application/json", b'{"a": ') == []
    assert codec.duplicate_fields(None, b'{"a": 1, "a": 1}') == ["a"]
