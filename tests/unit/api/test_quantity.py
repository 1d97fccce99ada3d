"""Quantity parsing and canonical forms, checked against upstream apimachinery behaviour."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pocketkube.api import quantity
from pocketkube.api.quantity import QuantityError, canonical_quantity, compare, parse_quantity, round_up


@pytest.mark.parametrize(("text", "expected"), [
    ("0", "0"), ("100m", "100m"), ("1000m", "1"), ("0.5", "500m"), ("1.5", "1500m"),
    ("1Gi", "1Gi"), ("8Gi", "8Gi"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("0.5Gi", "512Mi"),
    ("3.5Mi", "3584Ki"), ("1e3", "1e3"), ("129e-2", "1290e-3"), ("12e6", "12e6"),
    ("1000k", "1M"), ("1.2k", "1200"), ("-1Gi", "-1Gi"), ("0.0000000001", "1n"),
    ("+1", "+1"), ("0100m", "0100m"), ("2048", "2048"), ("10G", "10G"), ("1Ki", "1Ki"),
])
def test_canonical_forms(text: str, expected: str) -> None:
    assert canonical_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1Gx", "1Mi3", "1e", "1ee3", "1.5.5", "--1"])
def test_invalid(text: str) -> None:
    assert not quantity.is_valid_quantity(text)
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_numbers_from_json() -> None:
    assert canonical_quantity(1) == "1"
    assert canonical_quantity(0.5) == "500m"
    assert not quantity.is_valid_quantity(True)


def test_values_and_formats() -> None:
    assert parse_quantity("1Gi").value == 2**30
    assert parse_quantity("250m").value == Fraction(1, 4)
    assert parse_quantity("1Gi").format == quantity.BINARY_SI
    assert parse_quantity("1e3").format == quantity.DECIMAL_EXPONENT
    assert parse_quantity("1").format == quantity.DECIMAL_SI
    assert parse_quantity("0.5Ki").format == quantity.BINARY_SI  # 512 stays binary until rendered
    assert str(parse_quantity("0.5Ki")) == "512"


def test_compare_and_round_up() -> None:
    assert compare("1", "1000m") == 0
    assert compare("500m", "1") == -1
    assert compare("1Gi", "1G") == 1
    assert str(round_up(parse_quantity("1n"))) == "1m"
    assert str(round_up(parse_quantity("1500u"))) == "2m"
    assert str(round_up(parse_quantity("100m"))) == "100m"
    assert parse_quantity("1.5").milli_value() == 1500
    assert parse_quantity("1500m").int_value() == 2


def test_structural_alias() -> None:
    assert quantity.canonical("2000m") == "2"
    with pytest.raises(ValueError):
        quantity.canonical("x")
