"""Image references as a container runtime reports them (pure).

Theory of operation: containerd reports images by their normalized reference
(`nginx` -> `docker.io/library/nginx:latest`) and identifies them by repo
digest (`docker.io/library/nginx@sha256:...`); the kubelet copies both into
`containerStatuses[].image` / `imageID` and into `node.status.images`. The
simulated runtime has no registry, so digests and sizes are derived
deterministically from the normalized name: the same image always has the same
id and size on every simulated node. `needs_pull` is the kubelet's
imagePullPolicy rule; `next_pull_backoff` its image pull back-off (per pod and
image: 10 s doubling to 5 min, forgotten after 10 min without a failure).
"""

from __future__ import annotations

import hashlib

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_PREFIX = "library/"
PULL_BACKOFF_INITIAL = 10.0
PULL_BACKOFF_MAX = 300.0


def _split_domain(ref: str) -> tuple[str, str]:
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_DOMAIN, ref


def normalize(image: str) -> str:
    """The fully qualified reference containerd reports for `image`."""
    ref = image.strip()
    domain, path = _split_domain(ref)
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    name, at, digest = path.partition("@")
    if at:
        return f"{domain}/{name}@{digest}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    return f"{domain}/{name}"


def repository(image: str) -> str:
    """The reference without tag or digest: docker.io/library/nginx."""
    full = normalize(image)
    name = full.partition("@")[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.partition(':')[0]}"


def digest(image: str) -> str:
    """A stable sha256 digest for the (simulated) image."""
    full = normalize(image)
    if "@" in full:
        return full.partition("@")[2]
    return "sha256:" + hashlib.sha256(full.encode()).hexdigest()


def image_id(image: str) -> str:
    """The repo-digest form the kubelet puts in containerStatuses[].imageID."""
    return f"{repository(image)}@{digest(image)}"


def size_bytes(image: str) -> int:
    """A stable, plausible image size (2-150 MB)."""
    h = int(hashlib.sha256(normalize(image).encode()).hexdigest()[:8], 16)
    return 2_000_000 + h % 148_000_000


def default_pull_policy(image: str) -> str:
    """The API default: Always for :latest or untagged images, else IfNotPresent."""
    full = normalize(image)
    if "@" in full:
        return "IfNotPresent"
    return "Always" if full.endswith(":latest") else "IfNotPresent"


def needs_pull(policy: str, present: bool) -> bool | None:
    """True: pull; False: use the local copy; None: not present and policy Never (ErrImageNeverPull)."""
    if policy == "Always":
        return True
    if present:
        return False
    return None if policy == "Never" else True


def next_pull_backoff(previous: tuple[float, float] | None, now: float) -> float:
    """The back-off after a failed pull at `now`, given the previous (delay, failed at), if any."""
    if previous is None or now - previous[1] > 2 * PULL_BACKOFF_MAX:
        return PULL_BACKOFF_INITIAL
    return min(previous[0] * 2, PULL_BACKOFF_MAX)
