"""kubeconfig: merge/remove keep everything else, replace same-name entries, never rewrite foreign files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import yaml

from pocketkube.cli import kubeconfig
from pocketkube.cli.kubeconfig import KubeconfigError

PEMS = {"ca_pem": b"CA", "cert_pem": b"CERT", "key_pem": b"KEY"}

EXISTING = {
    "apiVersion": "v1", "kind": "Config", "preferences": {"colors": True},
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "work-admin", "user": {"token": "secret"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work-admin"}}],
    "current-context": "work",
    "extensions": [{"name": "x", "extension": {"a": 1}}],
}


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def read(path: Path) -> dict[str, object]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def names(data: dict[str, object], key: str) -> list[str]:
    return [e["name"] for e in data[key]]  # type: ignore[attr-defined]


def test_default_path(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["", "/tmp/a/config", "/tmp/b/config"]))
    assert kubeconfig.default_path() == Path("/tmp/a/config")
    monkeypatch.setenv("KUBECONFIG", "")
    assert kubeconfig.default_path() == Path(os.environ["HOME"]) / ".kube" / "config"
    monkeypatch.delenv("KUBECONFIG")
    assert kubeconfig.default_path() == Path(os.environ["HOME"]) / ".kube" / "config"


def test_merge_into_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "kube" / "config"
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = read(path)
    assert data["current-context"] == "dev"
    assert (data["apiVersion"], data["kind"]) == ("v1", "Config")
    assert data["clusters"] == [{"name": "dev", "cluster": {
        "certificate-authority-data": base64.b64encode(b"CA").decode(), "server": "https://127.0.0.1:6443"}}]
    assert data["users"] == [{"name": "dev", "user": {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                                                      "client-key-data": base64.b64encode(b"KEY").decode()}}]
    assert data["contexts"] == [{"name": "dev", "context": {"cluster": "dev", "user": "dev", "namespace": "default"}}]
    assert [p.name for p in path.parent.iterdir()] == ["config"]  # no temp files left behind


def test_merge_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, EXISTING)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    data = read(path)
    assert names(data, "clusters") == ["work", "dev"]
    assert names(data, "users") == ["work-admin", "dev"]
    assert names(data, "contexts") == ["work", "dev"]
    assert data["clusters"][0] == EXISTING["clusters"][0]  # type: ignore[index]
    assert data["preferences"] == {"colors": True}
    assert data["extensions"] == EXISTING["extensions"]
    assert data["current-context"] == "dev"


def test_merge_replaces_same_name_entries(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, EXISTING)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:7443", namespace="team", **PEMS)
    data = read(path)
    assert names(data, "clusters") == ["work", "dev"]
    assert names(data, "contexts") == ["work", "dev"]
    assert data["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:7443"  # type: ignore[index]
    assert data["contexts"][1]["context"]["namespace"] == "team"  # type: ignore[index]


def test_merge_fills_missing_or_null_lists(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, {"apiVersion": "v1", "kind": "Config", "clusters": None})
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    data = read(path)
    assert names(data, "clusters") == names(data, "users") == names(data, "contexts") == ["dev"]


@pytest.mark.parametrize("content", [b"clusters: [unclosed\n", b"- just\n- a list\n", b"\xff\xfe\x00binary",
                                     b"clusters: not-a-list\n", b"plain text"])
def test_foreign_files_are_never_rewritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config"
    path.write_bytes(content)
    with pytest.raises(KubeconfigError) as e:
        kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    assert str(path) in str(e.value)
    assert "left untouched" in str(e.value)
    assert path.read_bytes() == content
    with pytest.raises(KubeconfigError):
        kubeconfig.remove(path, "dev")
    assert path.read_bytes() == content
    assert not kubeconfig.has_context(path, "dev")


def test_invalid_yaml_message_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nclusters: [unclosed\n")
    with pytest.raises(KubeconfigError, match=r"is not valid YAML \(line \d+\)"):
        kubeconfig.load(path)


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    assert names(read(path), "contexts") == ["dev"]


def test_remove(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, EXISTING)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    assert kubeconfig.has_context(path, "dev")
    assert kubeconfig.remove(path, "dev")
    data = read(path)
    assert names(data, "clusters") == ["work"]
    assert names(data, "users") == ["work-admin"]
    assert names(data, "contexts") == ["work"]
    assert data["current-context"] == ""
    assert data["extensions"] == EXISTING["extensions"]
    assert not kubeconfig.has_context(path, "dev")
    before = path.read_bytes()
    assert not kubeconfig.remove(path, "dev")
    assert path.read_bytes() == before


def test_remove_keeps_another_current_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, EXISTING)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    data = read(path)
    data["current-context"] = "work"
    write(path, data)
    assert kubeconfig.remove(path, "dev")
    assert read(path)["current-context"] == "work"


def test_remove_from_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "config"
    assert not kubeconfig.remove(path, "dev")
    assert not path.exists()
    assert not kubeconfig.has_context(path, "dev")


def test_remove_clears_current_context_even_without_entries(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
                 "current-context": "dev"})
    assert kubeconfig.remove(path, "dev")
    assert read(path)["current-context"] == ""


def test_extract(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, EXISTING)
    kubeconfig.merge(path, name="dev", server="https://127.0.0.1:6443", **PEMS)
    alone = yaml.safe_load(kubeconfig.extract(path, "dev"))
    assert names(alone, "clusters") == names(alone, "users") == names(alone, "contexts") == ["dev"]
    assert alone["current-context"] == "dev"
    with pytest.raises(KubeconfigError, match='has no context "nope"'):
        kubeconfig.extract(path, "nope")
