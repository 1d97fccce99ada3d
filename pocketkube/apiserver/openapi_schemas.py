"""Definitions for the /openapi documents, converted from the v1.32 type schemas.

Theory of operation: `pocketkube.api.schema` holds the upstream definitions in
the JSON-schema dialect of `kubernetes-validate` (nullable type lists such as
["string", "null"], refs "#/$defs/<name>", IntOrString and Quantity as oneOf,
and a synthesized one-value `enum` on every top-level apiVersion/kind). The
OpenAPI documents want them back in upstream form, which differs per dialect:

- OpenAPI 3 (`/openapi/v3/...`): refs "#/components/schemas/<name>"; a ref
  that carries sibling keys (description, patch strategy, ...) is wrapped as
  `{"allOf": [{"$ref": ...}], <siblings>}` as kube-openapi does, so that
  `kubectl explain` prints the field's own description before the type's and
  strategic-merge lookups still resolve `allOf[0]`.
- Swagger 2.0 (`/openapi/v2`): refs "#/definitions/<name>" with the siblings
  kept beside `$ref`.

Both dialects get a single `type` string, no `nullable`, and no synthesized
enums (upstream has no enum on apiVersion/kind; the source data carries no
other enums). IntOrString and Quantity are restored to upstream's shape for
each dialect, with their upstream descriptions.

Known loss: the source data has no `default` values, so upstream's
`default: {}` / `default: ""` / `default: 0` markers are absent.

Conversion is done once per dialect for every definition (a few milliseconds)
and cached; `closure()` then picks the definitions a document references.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from pocketkube.api.schema import get_schema

V3_REF_PREFIX = "#/components/schemas/"
V2_REF_PREFIX = "#/definitions/"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

_INT_OR_STRING_DESCRIPTION = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and "
    "unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON "
    "field that can accept a name or number."
)
_QUANTITY_DESCRIPTION = (
    "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling "
    "in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n"
    "``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" case "
    "in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> "
    "<number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= \"+\" | "
    "\"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | "
    "<decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International "
    "System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | \"\" | "
    "k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the capitalization.)\n\n"
    "<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\nNo matter which of the three "
    "exponent forms is used, no quantity may represent a number greater than 2^63-1 in magnitude, nor may it "
    "have more than 3 decimal places. Numbers larger or more precise will be capped or rounded up. (E.g.: "
    "0.1m will rounded up to 1m.) This may be extended in the future if we require larger or smaller "
    "quantities.\n\nWhen a Quantity is parsed from a string, it will remember the type of suffix it had, and "
    "will use the same type again when it is serialized.\n\nBefore serializing, Quantity will be put in "
    "\"canonical form\". This means that Exponent/suffix will be adjusted up or down (with a corresponding "
    "increase or decrease in Mantissa) such that:\n\n- No precision is lost - No fractional digits will be "
    "emitted - The exponent (or suffix) is as large as possible.\n\nThe sign will be omitted unless the "
    "number is negative.\n\nExamples:\n\n- 1.5 will be serialized as \"1500m\" - 1.5Gi will be serialized as "
    "\"1536Mi\"\n\nNote that the quantity will NEVER be internally represented by a floating point number. "
    "That is the whole point of this exercise.\n\nNon-canonical values will still parse as long as they are "
    "well formed, but will be re-emitted in their canonical form. (So always use canonical form, or don't "
    "diff.)\n\nThis format is intended to make it difficult to use these numbers without writing some sort "
    "of special handling code in the hopes that that will cause implementors to also use a fixed point "
    "implementation."
)

# Upstream's own shape for the two types kubernetes-validate rewrote as oneOf.
_OVERRIDES: dict[bool, dict[str, dict[str, Any]]] = {
    True: {  # OpenAPI 3
        INT_OR_STRING: {"description": _INT_OR_STRING_DESCRIPTION, "format": "int-or-string",
                        "oneOf": [{"type": "integer"}, {"type": "string"}]},
        QUANTITY: {"description": _QUANTITY_DESCRIPTION,
                   "oneOf": [{"type": "string"}, {"type": "number"}]},
    },
    False: {  # Swagger 2.0
        INT_OR_STRING: {"description": _INT_OR_STRING_DESCRIPTION, "format": "int-or-string", "type": "string"},
        QUANTITY: {"description": _QUANTITY_DESCRIPTION, "type": "string"},
    },
}

_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf")


def _single_type(value: Any) -> str | None:
    if isinstance(value, list):
        return next((t for t in value if t != "null"), None)
    return value if isinstance(value, str) and value != "null" else None


def convert(raw: dict[str, Any], v3: bool) -> dict[str, Any]:
    """Convert one kubernetes-validate schema node to the OpenAPI 3 or Swagger 2 dialect."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("$ref", "nullable", "enum"):
            continue
        if key == "type":
            t = _single_type(value)
            if t:
                out["type"] = t
        elif key == "properties":
            out[key] = {name: convert(sub, v3) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value, v3)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [convert(sub, v3) for sub in value]
        else:
            out[key] = value
    ref = raw.get("$ref")
    if not ref:
        return out
    target = (V3_REF_PREFIX if v3 else V2_REF_PREFIX) + ref.rsplit("/", 1)[-1]
    if v3 and out:
        return {"allOf": [{"$ref": target}], **out}
    return {"$ref": target, **out}


def _collect_refs(node: Any, into: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                into.add(value.rsplit("/", 1)[-1])
            elif key != "x-kubernetes-group-version-kind":
                _collect_refs(value, into)
    elif isinstance(node, list):
        for item in node:
            _collect_refs(item, into)


class Definitions:
    """Every definition converted to one dialect, with its direct references."""

    def __init__(self, v3: bool) -> None:
        raw = get_schema().raw
        overrides = _OVERRIDES[v3]
        self.schemas: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, frozenset[str]] = {}
        for name, definition in raw.items():
            converted = overrides.get(name) or convert(definition, v3)
            found: set[str] = set()
            _collect_refs(converted, found)
            self.schemas[name] = converted
            self.refs[name] = frozenset(found)

    def closure(self, roots: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The named definitions plus everything they reference, transitively."""
        seen: set[str] = set()
        stack = [r for r in roots if r in self.schemas]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(r for r in self.refs[name] if r not in seen and r in self.schemas)
        return {name: self.schemas[name] for name in sorted(seen)}


@functools.cache
def definitions(v3: bool) -> Definitions:
    """The converted definitions of one dialect, built once per process."""
    return Definitions(v3)


def referenced_names(document_part: Any) -> set[str]:
    """Definition names referenced anywhere in a (paths) tree."""
    found: set[str] = set()
    _collect_refs(document_part, found)
    return found
