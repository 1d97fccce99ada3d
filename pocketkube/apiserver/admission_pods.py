"""Pod admission plugins: ServiceAccount, DefaultTolerationSeconds, Priority.

Theory of operation: these reproduce the mutations kube-apiserver's default
admission chain makes to every new pod, so `kubectl get pod -o yaml` reads as on
a real cluster:
- ServiceAccount: serviceAccountName defaults to `default`, the account must
  exist (403 otherwise), and unless automounting is off a projected
  `kube-api-access-<suffix>` volume (token, kube-root-ca.crt, namespace) is
  mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every
  container;
- DefaultTolerationSeconds: NoExecute tolerations for node.kubernetes.io/not-ready
  and /unreachable, 300 s, unless the pod already tolerates them;
- Priority: `priority` and `preemptionPolicy` from the pod's PriorityClass (or the
  global default class, else 0 / PreemptLowerPriority).
They run on pod CREATE only and read other objects through the watch cache.
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.scheme import Resource
from pocketkube.apiserver.admission import Release, lookup
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.objectmeta import random_suffix
from pocketkube.apiserver.watchcache import WatchCache
from pocketkube.machinery import errors
from pocketkube.machinery.taints import NO_EXECUTE, NOT_READY, UNREACHABLE

Obj = dict[str, Any]
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_EXPIRATION = 3607
DEFAULT_TOLERATION_SECONDS = 300


def _is_pod_create(op: str, resource: Resource, obj: Obj | None) -> bool:
    return op == "CREATE" and resource.group == "" and resource.plural == "pods" and obj is not None


def _containers(spec: Obj) -> list[Obj]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


class ServiceAccountAdmission:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if not _is_pod_create(op, resource, obj):
            return None
        assert obj is not None
        spec = obj.setdefault("spec", {})
        if (obj["metadata"].get("annotations") or {}).get("kubernetes.io/config.mirror"):
            return None
        name = spec.get("serviceAccountName") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        ns = obj["metadata"].get("namespace", "")
        key = f"/registry/core/serviceaccounts/{ns}/{name}"
        sa = await lookup(self.cache, "/registry/core/serviceaccounts/", key)
        if sa is None:
            raise errors.forbidden_error("pods", "", obj["metadata"].get("name", ""),
                                         f'error looking up service account {ns}/{name}: serviceaccount '
                                         f'"{name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.obj.get("automountServiceAccountToken", True)
        if automount:
            self._mount_token(spec)
        return None

    @staticmethod
    def _mount_token(spec: Obj) -> None:
        if any(m.get("mountPath") == TOKEN_MOUNT_PATH for c in _containers(spec) for m in c.get("volumeMounts") or []):
            return
        volume_name = "kube-api-access-" + random_suffix()
        spec.setdefault("volumes", []).append({"name": volume_name, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}]}},
        ]}})
        for c in _containers(spec):
            c.setdefault("volumeMounts", []).append(
                {"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})


class DefaultTolerationSeconds:
    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if not _is_pod_create(op, resource, obj):
            return None
        assert obj is not None
        tolerations = obj["spec"].setdefault("tolerations", [])
        for key in (NOT_READY, UNREACHABLE):
            if not any(_tolerates(t, key) for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": NO_EXECUTE,
                                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
        return None


def _tolerates(t: Obj, key: str) -> bool:
    """Upstream's own test here, looser than ToleratesTaint: the value is not compared."""
    if t.get("effect") not in (None, "", NO_EXECUTE):
        return False
    if t.get("operator") == "Exists" and not t.get("key"):
        return True
    return bool(t.get("key") == key)


class PriorityAdmission:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    def _classes(self) -> dict[str, Obj]:
        c = self.cache.cache("/registry/scheduling.k8s.io/priorityclasses/")
        return {e.obj["metadata"]["name"]: e.obj for e in c.entries.values()}

    async def admit(self, op: str, resource: Resource, obj: Obj | None, old: Obj | None,
                    ctx: RequestContext) -> Release | None:
        if not _is_pod_create(op, resource, obj):
            return None
        assert obj is not None
        spec = obj["spec"]
        classes = self._classes()
        name = spec.get("priorityClassName", "")
        if name:
            pc = classes.get(name)
            if pc is None:
                raise errors.forbidden_error("pods", "", obj["metadata"].get("name", ""),
                                             f"no PriorityClass with name {name} was found")
            value, policy = pc.get("value", 0), pc.get("preemptionPolicy") or "PreemptLowerPriority"
        else:
            default = next((pc for pc in classes.values() if pc.get("globalDefault")), None)
            value = default.get("value", 0) if default else 0
            policy = (default or {}).get("preemptionPolicy") or "PreemptLowerPriority"
            if default:
                spec["priorityClassName"] = default["metadata"]["name"]
        if "priority" in spec and spec["priority"] != value:
            raise errors.forbidden_error("pods", "", obj["metadata"].get("name", ""),
                                         f"the integer value of priority ({spec['priority']}) must not be provided "
                                         f"in pod spec; priority admission controller computed {value} from the "
                                         f"given PriorityClass name")
        spec["priority"] = value
        spec.setdefault("preemptionPolicy", policy)
        return None
