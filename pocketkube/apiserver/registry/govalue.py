"""Bad values rendered the way kube-apiserver prints them in field errors.

Theory of operation: upstream's `field.Error.ErrorBody` prints a bad value with
`%v`/`%q` for scalars and strings, and with Go's `%#v` for everything else, so
kubectl users see `map[string]string{"app":"web"}` or
`v1.LabelSelector{MatchLabels:..., MatchExpressions:...}` after "Invalid value:".
`machinery.errors` renders JSON scalars and string lists itself and falls back
to `str()` for other objects; a `GoValue` is such an object carrying the Go text.

The renderers here build that text from JSON trees. Maps, label selectors and
IntOrStrings are exact; other structs (`go_struct`) are a faithful-looking
approximation, because upstream prints internal Go types whose zero values and
pointer addresses have no JSON counterpart.
"""

from __future__ import annotations

from typing import Any

from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError

IMMUTABLE = "field is immutable"


class GoValue:
    """A value whose field-error rendering is fixed Go text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"GoValue({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoValue) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def quote(s: str) -> str:
    """Go's %q for plain strings."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _scalar(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return quote(v)
    return str(v)


def string_map_text(m: dict[str, Any] | None) -> str:
    if m is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{quote(k)}:{quote(str(m[k]))}" for k in sorted(m)) + "}"


def string_map(m: dict[str, Any] | None) -> GoValue:
    """`map[string]string{"a":"b"}` (keys sorted, as Go prints maps)."""
    return GoValue(string_map_text(m))


def string_slice_text(values: list[Any] | None) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(quote(str(v)) for v in values) + "}"


def label_selector_text(sel: dict[str, Any]) -> str:
    exprs = sel.get("matchExpressions")
    if exprs is None:
        ex = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = [
            f"v1.LabelSelectorRequirement{{Key:{quote(e.get('key', ''))}, "
            f"Operator:{quote(e.get('operator', ''))}, Values:{string_slice_text(e.get('values'))}}}"
            for e in exprs
        ]
        ex = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return f"v1.LabelSelector{{MatchLabels:{string_map_text(sel.get('matchLabels'))}, MatchExpressions:{ex}}}"


def label_selector(sel: dict[str, Any] | None) -> Any:
    """A (dereferenced) *metav1.LabelSelector; None renders as null."""
    if sel is None:
        return None
    return GoValue(label_selector_text(sel))


def int_or_string(v: Any) -> GoValue:
    """intstr.IntOrString as %#v prints it."""
    if isinstance(v, str):
        return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{quote(v)}}}")
    n = v if isinstance(v, int) and not isinstance(v, bool) else 0
    return GoValue(f"intstr.IntOrString{{Type:0, IntVal:{n}, StrVal:\"\"}}")


def _go_name(key: str) -> str:
    return key[:1].upper() + key[1:]


def _struct_body(obj: Any) -> str:
    if isinstance(obj, dict):
        inner = ", ".join(f"{_go_name(k)}:{_struct_body(v)}" for k, v in obj.items())
        return "{" + inner + "}"
    if isinstance(obj, list):
        return "[]{" + ", ".join(_struct_body(v) for v in obj) + "}"
    return _scalar(obj)


def go_struct(type_name: str, obj: Any) -> Any:
    """Approximate `%#v` of an internal struct: `apps.X{Field:value, ...}`; None is null."""
    if obj is None:
        return None
    if isinstance(obj, list) and type_name.startswith("[]"):
        return GoValue(type_name + "{" + ", ".join(type_name[2:] + _struct_body(v) for v in obj) + "}")
    return GoValue(type_name + _struct_body(obj))


def immutable(new: Any, old: Any, path: str, shown: Any = None) -> list[FieldError]:
    """ValidateImmutableField: `field is immutable` when the value changed.

    `shown` is the rendering of the new value (defaults to the JSON value itself).
    """
    if new == old:
        return []
    return [errors.invalid(path, new if shown is None else shown, IMMUTABLE)]


def nonnegative(value: Any, path: str) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return [errors.invalid(path, value, "must be greater than or equal to 0")]
    return []
