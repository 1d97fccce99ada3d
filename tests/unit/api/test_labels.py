"""Label and field selectors: parsing, matching, errors and kubectl's printed form."""

from __future__ import annotations

import pytest

from pocketkube.api import labels
from pocketkube.api.labels import (
    DOES_NOT_EXIST,
    EQUALS,
    EXISTS,
    GREATER,
    IN,
    LESS,
    NOT_EQUALS,
    NOT_IN,
    Requirement,
    SelectorError,
)

# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("app=web", (Requirement("app", EQUALS, ("web",)),)),
    ("app==web", (Requirement("app", EQUALS, ("web",)),)),
    ("app!=web", (Requirement("app", NOT_EQUALS, ("web",)),)),
    ("app in (web,db)", (Requirement("app", IN, ("web", "db")),)),
    ("app notin (web)", (Requirement("app", NOT_IN, ("web",)),)),
    ("app", (Requirement("app", EXISTS),)),
    ("!app", (Requirement("app", DOES_NOT_EXIST),)),
    ("replicas>5", (Requirement("replicas", GREATER, ("5",)),)),
    ("replicas<10", (Requirement("replicas", LESS, ("10",)),)),
    ("app.kubernetes.io/name=web", (Requirement("app.kubernetes.io/name", EQUALS, ("web",)),)),
    ("app=", (Requirement("app", EQUALS, ("",)),)),
    ("", ()),
])
def test_parse_single_requirements(text: str, expected: labels.Selector) -> None:
    assert labels.parse_label_selector(text) == expected


def test_parse_conjunction_with_spaces() -> None:
    sel = labels.parse_label_selector("  env in ( prod , staging ),tier!=cache , !legacy,app ")
    assert sel == (Requirement("env", IN, ("prod", "staging")), Requirement("tier", NOT_EQUALS, ("cache",)),
                   Requirement("legacy", DOES_NOT_EXIST), Requirement("app", EXISTS))


def test_in_without_space_before_parenthesis() -> None:
    assert labels.parse_label_selector("a in(x,y)") == (Requirement("a", IN, ("x", "y")),)


@pytest.mark.parametrize("text,message", [
    ("a=b,", "found '', expected: identifier after ','"),
    ("a=b c=d", "found 'c', expected: ',' or 'end of string'"),
    ("!", "found '', expected: identifier"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a in b", "found 'b' expected: '('"),
    ("a in", "found '' expected: '('"),
    ("a in (b,c", "found '', expected: ',' or ')'"),
    ("a in (b,", "found '', expected: ',', or identifier"),
    ("a in =", "found '=' expected: '('"),
    ("a in (=", "found '=', expected: ',', ')' or identifier"),
    ("a=(", "found '(', expected: identifier"),
    ("a>b", 'values[0]: Invalid value: "b": for \'Gt\', \'Lt\' operators, the value must be an integer'),
    ("a<", 'values[0]: Invalid value: "": for \'Gt\', \'Lt\' operators, the value must be an integer'),
    ("a>1_0", 'values[0]: Invalid value: "1_0": for \'Gt\', \'Lt\' operators, the value must be an integer'),
    ("a=b@c", 'values[0][a]: Invalid value: "b@c": a valid label must be an empty string or consist of '
              "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
              "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("a foo b", "found 'foo', expected: in, notin, =, ==, !=, gt, lt"),
    ("=b", "found '=', expected: !, identifier, or 'end of string'"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        labels.parse_label_selector(text)
    assert str(e.value) == message


def test_selector_error_is_a_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


def test_set_values_must_be_comma_separated() -> None:
    with pytest.raises(SelectorError, match="found 'b', expected: ',' or '\\)'"):
        labels.parse_label_selector("a in (x b)")


def test_empty_parenthesis_is_the_empty_string_value() -> None:
    assert labels.parse_label_selector("a in ()") == (Requirement("a", IN, ("",)),)
    assert labels.matches(labels.parse_label_selector("a in ()"), {"a": ""})


@pytest.mark.parametrize("text", ["-app=web", "app_=web", "a/b/c=d"])
def test_invalid_label_keys_are_rejected(text: str) -> None:
    with pytest.raises(SelectorError):
        labels.parse_label_selector(text)


def test_invalid_key_message_has_upstreams_nil_path() -> None:
    # labels.Parse validates the key against a nil field path, which Go prints as "<nil>".
    with pytest.raises(SelectorError) as e:
        labels.parse_label_selector("app_=web")
    assert str(e.value).startswith('<nil>: Invalid value: "app_": name part must consist of alphanumeric')
    assert e.value.in_requirement


def test_errors_between_requirements_are_not_requirement_errors() -> None:
    with pytest.raises(SelectorError) as e:
        labels.parse_label_selector("a=b c=d")
    assert not e.value.in_requirement


# --- matching -------------------------------------------------------------------------


@pytest.mark.parametrize("text,labels_,expected", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app=web", {}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {"app": "web"}, False),
    ("app in (web,db)", {"app": "db"}, True),
    ("app in (web,db)", {"app": "cache"}, False),
    ("app in (web,db)", {}, False),
    ("app notin (web,db)", {}, True),
    ("app notin (web,db)", {"app": "web"}, False),
    ("app", {"app": ""}, True),
    ("app", {"other": "x"}, False),
    ("!app", {"other": "x"}, True),
    ("!app", {"app": "x"}, False),
    ("n>5", {"n": "6"}, True),
    ("n>5", {"n": "5"}, False),
    ("n<5", {"n": "-3"}, True),
    ("n>5", {"n": "six"}, False),
    ("n>5", {}, False),
    ("app=web,tier=front", {"app": "web", "tier": "front"}, True),
    ("app=web,tier=front", {"app": "web", "tier": "back"}, False),
    ("", {"anything": "x"}, True),
])
def test_matches(text: str, labels_: dict[str, str], expected: bool) -> None:
    assert labels.matches(labels.parse_label_selector(text), labels_) is expected


def test_matches_none_labels_as_empty() -> None:
    assert labels.matches(labels.parse_label_selector("!app"), None)
    assert not labels.matches(labels.parse_label_selector("app"), None)


def test_gt_lt_use_go_integer_syntax() -> None:
    assert not labels.matches(labels.parse_label_selector("n>5"), {"n": "1_0"})


# --- printing ---------------------------------------------------------------------------


@pytest.mark.parametrize("text,printed", [
    ("app==web", "app=web"),
    ("app!=web", "app!=web"),
    ("app in (web,db)", "app in (db,web)"),
    ("app notin (b,a)", "app notin (a,b)"),
    ("app", "app"),
    ("!app", "!app"),
    ("n>5", "n>5"),
    ("n<5", "n<5"),
])
def test_requirement_str(text: str, printed: str) -> None:
    (req,) = labels.parse_label_selector(text)
    assert str(req) == printed


def test_from_label_selector() -> None:
    sel = labels.from_label_selector({
        "matchLabels": {"tier": "front", "app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]},
                             {"key": "legacy", "operator": "DoesNotExist"},
                             {"key": "zone", "operator": "NotIn", "values": ["a", "b"]},
                             {"key": "gpu", "operator": "Exists"}]})
    assert sel == (Requirement("app", EQUALS, ("web",)), Requirement("tier", EQUALS, ("front",)),
                   Requirement("env", IN, ("prod",)), Requirement("legacy", DOES_NOT_EXIST),
                   Requirement("zone", NOT_IN, ("a", "b")), Requirement("gpu", EXISTS))
    assert labels.matches(sel, {"app": "web", "tier": "front", "env": "prod", "zone": "c", "gpu": "1"})
    assert not labels.matches(sel, {"app": "web", "tier": "front", "env": "prod", "zone": "a", "gpu": "1"})


@pytest.mark.parametrize("empty", [None, {}, {"matchLabels": {}}, {"matchLabels": None, "matchExpressions": None}])
def test_empty_label_selector_selects_everything(empty: dict[str, object] | None) -> None:
    sel = labels.from_label_selector(empty)
    assert sel == ()
    assert labels.matches(sel, {"x": "y"})
    assert labels.selector_string(empty) == ""


def test_from_label_selector_rejects_unknown_operator() -> None:
    with pytest.raises(SelectorError, match="is not a valid label selector operator"):
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})


def test_unknown_operator_message_quotes_like_go() -> None:
    with pytest.raises(SelectorError) as e:
        labels.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert str(e.value) == '"Foo" is not a valid label selector operator'


def test_selector_string_sorts_by_key_and_values() -> None:
    s = labels.selector_string({"matchLabels": {"b": "2", "a": "1"},
                                "matchExpressions": [{"key": "aa", "operator": "NotIn", "values": ["z", "y"]},
                                                     {"key": "0", "operator": "DoesNotExist"},
                                                     {"key": "c", "operator": "Exists"}]})
    assert s == "!0,a=1,aa notin (y,z),b=2,c"
    assert labels.selector_string({"matchLabels": {"app": "web"}}) == "app=web"


# --- field selectors -----------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("metadata.name=web", (("metadata.name", "=", "web"),)),
    ("metadata.name==web", (("metadata.name", "=", "web"),)),
    ("status.phase!=Running", (("status.phase", "!=", "Running"),)),
    ("spec.nodeName=,metadata.namespace=default", (("metadata.namespace", "=", "default"), ("spec.nodeName", "=", ""))),
    ("", ()),
    (",,", ()),
    ("metadata.name=a\\,b\\=c\\\\d", (("metadata.name", "=", "a,b=c\\d"),)),
    ("metadata.name=a\\,b,status.phase=x", (("metadata.name", "=", "a,b"), ("status.phase", "=", "x"))),
    ("metadata.name = web", (("metadata.name ", "=", " web"),)),
    ("metadata.name!=a\\=b", (("metadata.name", "!=", "a=b"),)),
])
def test_parse_field_selector(text: str, expected: labels.FieldSelector) -> None:
    assert labels.parse_field_selector(text) == expected


def test_field_selector_error() -> None:
    with pytest.raises(SelectorError) as e:
        labels.parse_field_selector("metadata.name=a,justaword")
    assert str(e.value) == "invalid selector: 'metadata.name=a,justaword'; can't understand 'justaword'"


@pytest.mark.parametrize("text,message", [
    ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
    ("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"),
    ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_selector_value_escapes_are_strict(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        labels.parse_field_selector(text)
    assert str(e.value) == message


def test_field_matches() -> None:
    fields = {"metadata.name": "web", "status.phase": "Running", "spec.nodeName": ""}
    value_of = fields.get
    assert labels.field_matches(labels.parse_field_selector("metadata.name=web"), value_of)
    assert not labels.field_matches(labels.parse_field_selector("metadata.name=db"), value_of)
    assert labels.field_matches(labels.parse_field_selector("status.phase!=Pending"), value_of)
    assert not labels.field_matches(labels.parse_field_selector("status.phase!=Running"), value_of)
    assert labels.field_matches(labels.parse_field_selector("spec.nodeName="), value_of)
    assert labels.field_matches(labels.parse_field_selector("metadata.name=web,status.phase=Running"), value_of)
    assert not labels.field_matches(labels.parse_field_selector("metadata.name=web,status.phase=Failed"), value_of)
    assert not labels.field_matches(labels.parse_field_selector("unknown.field!=x"), value_of)
    assert labels.field_matches((), value_of)
