from __future__ import annotations

import pytest

from pocketkube.kubelet import images


@pytest.mark.parametrize(("image", "normalized"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("user/app", "docker.io/user/app:latest"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("localhost:5000/team/app", "localhost:5000/team/app:latest"),
    ("nginx@sha256:abc", "docker.io/library/nginx@sha256:abc"),
])
def test_normalize_like_containerd(image: str, normalized: str) -> None:
    assert images.normalize(image) == normalized


def test_ids_are_stable_repo_digests() -> None:
    a = images.image_id("nginx:1.27")
    assert a == images.image_id("docker.io/library/nginx:1.27")
    assert a.startswith("docker.io/library/nginx@sha256:") and len(a.split(":")[-1]) == 64
    assert images.image_id("nginx@sha256:abc") == "docker.io/library/nginx@sha256:abc"
    assert images.size_bytes("nginx") == images.size_bytes("nginx:latest") > 0


def test_pull_policy_rules() -> None:
    assert images.default_pull_policy("nginx") == "Always"
    assert images.default_pull_policy("nginx:latest") == "Always"
    assert images.default_pull_policy("nginx:1.27") == "IfNotPresent"
    assert images.needs_pull("Always", True) is True
    assert images.needs_pull("IfNotPresent", True) is False
    assert images.needs_pull("IfNotPresent", False) is True
    assert images.needs_pull("Never", False) is None
