"""$(VAR) expansion as the kubelet does it (third_party/forked/golang/expansion), pure.

Theory of operation: `expand(text, mapping)` scans for the operator `$`:
- `$$` is an escaped `$` (one `$` out);
- `$(NAME)` up to the first `)` is a reference: `mapping(NAME)`; a name the mapping does not
  know is left as written, `$(NAME)`;
- `$(` without a closing `)` and `$x` for any other character are copied unchanged, as is a `$`
  at the end of the input.
Nothing else is special (no `${}`, no backslash escapes, no nesting). `mapping_for(*maps)` looks
names up in each map in turn. Users of expansion in the kubelet:
- env values: references to earlier env entries, envFrom keys and service variables
  (env.resolve_env);
- command and args: references to the container's final environment
  (`expand_command_and_args`);
- exec probe commands: references to the container's *literal* env values only
  (`expand_command_static`);
- subPathExpr: every reference must resolve to a non-empty value (`expand_subpath`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pocketkube.kubelet.podinputs.errors import ContainerConfigError

Mapping_ = Callable[[str], str]


def mapping_for(*contexts: Mapping[str, str]) -> Mapping_:
    """MappingFuncFor: the first context holding the name wins; unknown names stay `$(name)`."""

    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"

    return lookup


def expand(text: str, mapping: Mapping_) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable(text, cursor + 1)
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _read_variable(text: str, start: int) -> tuple[str, bool, int]:
    """(what was read, whether it is a variable name, how many characters it consumed)."""
    first = text[start]
    if first == "$":
        return "$", False, 1
    if first == "(":
        close = text.find(")", start + 1)
        if close >= 0:
            return text[start + 1:close], True, close - start + 1
        return "$(", False, 1
    return "$" + first, False, 1


def env_map(envs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Later entries win, as EnvVarsToMap."""
    return dict(envs)


def expand_command_and_args(container: Mapping[str, Any],
                            envs: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """ExpandContainerCommandAndArgs: the container's command and args with $(VAR) resolved
    against its final environment (`envs`, as resolve_env returns it)."""
    mapping = mapping_for(env_map(envs))
    command = [expand(str(c), mapping) for c in container.get("command") or ()]
    args = [expand(str(a), mapping) for a in container.get("args") or ()]
    return command, args


def expand_command_static(command: Sequence[str], container: Mapping[str, Any]) -> list[str]:
    """ExpandContainerCommandOnlyStatic (exec probes): only literal env values are known; an entry
    with valueFrom maps to the empty string."""
    literal = {str(e.get("name")): str(e.get("value") or "") for e in container.get("env") or ()}
    mapping = mapping_for(literal)
    return [expand(str(c), mapping) for c in command]


def expand_subpath(expr: str, envs: Iterable[tuple[str, str]]) -> str:
    """ExpandContainerVolumeMounts: a subPathExpr whose every reference has a non-empty value."""
    values = env_map(envs)
    missing: set[str] = set()

    def lookup(name: str) -> str:
        value = values.get(name, "")
        if not value:
            missing.add(name)
        return value

    expanded = expand(expr, lookup)
    if missing:
        raise ContainerConfigError(f"missing value for {', '.join(sorted(missing))}")
    return expanded
