"""Shared validation rules (names, labels, object metadata, label selectors).

Kind-specific semantic validation lives in each kind's strategy
(apiserver/registry); these helpers are the building blocks they share. Every
function returns a list of `machinery.errors.FieldError` and never raises.
"""
