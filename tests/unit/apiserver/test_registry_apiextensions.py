"""apiextensions.k8s.io/v1 CustomResourceDefinition strategy."""

from __future__ import annotations

import copy
from typing import Any

from pocketkube.api import structural
from pocketkube.apiserver.registry import apiextensions

CRD = apiextensions.STRATEGIES["CustomResourceDefinition"]
DEF = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
SCHEMA = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "size": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}}}}


def crd(*versions: dict[str, Any], name: str = "widgets.example.com", **spec: Any) -> dict[str, Any]:
    if not versions:
        versions = ({"name": "v1", "served": True, "storage": True, "schema": copy.deepcopy(SCHEMA)},)
    obj = {"metadata": {"name": name},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": list(versions), **spec}}
    structural.apply_defaults(obj, DEF)
    CRD.prepare_for_create(obj)
    return obj


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_valid_crd_status_and_generation() -> None:
    obj = crd()
    got = msgs(CRD.validate(obj))
    assert got[:6] == []
    assert obj["status"] == {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": ["v1"]}
    assert obj["metadata"]["generation"] == 1


def test_crd_errors() -> None:
    obj = crd({"name": "V1", "served": True, "storage": False, "schema": {"openAPIV3Schema": {"properties": {
        "spec": {"properties": {"x": {"type": "string"}}}}}}}, name="widgets", group="example", scope="Global")
    obj["spec"]["group"] = "example"
    got = msgs(CRD.validate(obj))
    assert got[:6] == [
        'metadata.name: Invalid value: "widgets": must be spec.names.plural+"."+spec.group',
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        "spec.versions[0].name: Invalid value: \"V1\": a DNS-1035 label must consist of lower case alphanumeric "
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        "spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
        "specified object fields",
    ]
    assert got[6].startswith('spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{'
                             'apiextensions.CustomResourceDefinitionVersion{Name:"V1", Served:true, Storage:false, ')
    assert got[6].endswith("}: must have exactly one version marked as storage version") and len(got) == 7


def test_crd_update_immutables_and_stored_versions() -> None:
    old = crd()
    new = copy.deepcopy(old)
    new["spec"]["versions"] = [dict(old["spec"]["versions"][0], storage=False),
                               {"name": "v2", "served": True, "storage": True, "schema": copy.deepcopy(SCHEMA)}]
    CRD.prepare_for_update(new, old)
    assert new["status"]["storedVersions"] == ["v1", "v2"] and new["metadata"]["generation"] == 2
    assert msgs(CRD.validate_update(new, old)) == []
    moved = copy.deepcopy(old)
    moved["spec"]["scope"] = "Cluster"
    assert msgs(CRD.validate_update(moved, old)) == ['spec.scope: Invalid value: "Cluster": field is immutable']
    status = copy.deepcopy(old)
    status["status"] = {"acceptedNames": {"plural": "widgets", "kind": "Widget"}, "storedVersions": ["v0"]}
    CRD.prepare_for_status_update(status, old)
    assert msgs(CRD.validate_status_update(status, old)) == [
        'status.storedVersions[0]: Invalid value: "v0": must appear in spec.versions',
        'status.storedVersions: Invalid value: []string{"v0"}: must have the storage version v1',
    ]
