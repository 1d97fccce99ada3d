"""Merging a profile's cluster, user and context into the kubeconfig kubectl uses.

Theory of operation: like minikube, `start` writes three named entries (cluster,
user, context, all named after the profile) into the first file of $KUBECONFIG
(else ~/.kube/config), replacing only entries of that name, and makes the
context current; `delete` removes exactly those entries. A file that is not a
YAML mapping is never rewritten: the caller gets a KubeconfigError naming it.
Writes are atomic (temp file + rename) and keep the file private (0600).
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(Exception):
    pass


def default_path() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
                "contexts": [], "current-context": ""}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML{where}; it was left untouched") from None
    except UnicodeDecodeError:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML; it was left untouched") from None
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig mapping; it was left untouched")
    for key in ("clusters", "users", "contexts"):
        if data.get(key) is None:
            data[key] = []
        if not isinstance(data[key], list):
            raise KubeconfigError(f"kubeconfig {path}: '{key}' is not a list; it was left untouched")
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(data, f, default_flow_style=False, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _put(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    out = [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]
    out.append({"name": name, key: value})
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def merge(path: Path, *, name: str, server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes,
          namespace: str = "default") -> None:
    data = load(path)
    data["clusters"] = _put(data["clusters"], name, "cluster", {
        "certificate-authority-data": _b64(ca_pem), "server": server})
    data["users"] = _put(data["users"], name, "user", {
        "client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)})
    data["contexts"] = _put(data["contexts"], name, "context", {
        "cluster": name, "user": name, "namespace": namespace})
    data["current-context"] = name
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    save(path, data)


def remove(path: Path, name: str) -> bool:
    """Remove the profile's entries; returns True if anything was removed."""
    if not path.exists():
        return False
    data = load(path)
    before = sum(len(data[k]) for k in ("clusters", "users", "contexts"))
    for key in ("clusters", "users", "contexts"):
        data[key] = [e for e in data[key] if not (isinstance(e, dict) and e.get("name") == name)]
    changed = before != sum(len(data[k]) for k in ("clusters", "users", "contexts"))
    if data.get("current-context") == name:
        data["current-context"] = ""
        changed = True
    if changed:
        save(path, data)
    return changed


def has_context(path: Path, name: str) -> bool:
    try:
        data = load(path)
    except KubeconfigError:
        return False
    return any(isinstance(c, dict) and c.get("name") == name for c in data["contexts"])


def extract(path: Path, name: str) -> str:
    """A standalone kubeconfig (YAML) holding only the profile's cluster, user and context."""
    data = load(path)
    pick = {key: [e for e in data[key] if isinstance(e, dict) and e.get("name") == name]
            for key in ("clusters", "users", "contexts")}
    if not pick["contexts"]:
        raise KubeconfigError(f'kubeconfig {path} has no context "{name}"')
    out = {"apiVersion": "v1", "kind": "Config", "preferences": {}, **pick, "current-context": name}
    return str(yaml.safe_dump(out, default_flow_style=False, sort_keys=False))
