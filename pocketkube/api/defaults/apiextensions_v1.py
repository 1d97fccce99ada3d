"""apiextensions.k8s.io/v1 defaults (upstream apiextensions-apiserver .../v1/defaults.go).

Theory of operation: a CRD's names.singular defaults to the lower-cased kind and
names.listKind to <Kind>List; conversion defaults to strategy None; a webhook
service reference defaults to port 443. status.storedVersions is maintained by
the CRD strategy (it resets status on create, as upstream).
"""

from __future__ import annotations

from typing import Any

from pocketkube.api.defaults import defaults_for

Obj = dict[str, Any]

_PREFIX = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."


@defaults_for(_PREFIX + "CustomResourceDefinitionSpec")
def crd_spec(spec: Obj) -> None:
    names = spec.get("names")
    if not isinstance(names, dict):
        names = spec["names"] = {}
    kind = names.get("kind", "")
    if not names.get("singular"):
        names["singular"] = kind.lower()
    if not names.get("listKind") and kind:
        names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}


@defaults_for(_PREFIX + "ServiceReference")
def service_reference(obj: Obj) -> None:
    if obj.get("port") is None:
        obj["port"] = 443
