"""Value checks shared by the core/v1 validations, with upstream wording.

Theory of operation: upstream's core validation leans on small predicates from
apimachinery (`IsValidPortNum`, `IsConfigMapKey`, `IsValidIP`, ...) and on the
resource-name helpers of pkg/apis/core/helper. This module reproduces the ones
the core kinds need. Functions named `*_problems` return message strings (to be
wrapped by the caller, as upstream does); `check_*` functions return
`FieldError` lists for a field path. `GoRepr` renders a bad value the way Go's
`%#v`/`%v` would when upstream passes a struct, map or pointer to field.Invalid.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pocketkube.api import quantity
from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

Errs = list[FieldError]
IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than zero"


class GoRepr:
    """A pre-rendered bad value (Go's formatting of a struct, map or pointer)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoRepr) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def go_map(m: Any) -> GoRepr:
    """map[string]string{"a":"b"} with Go's sorted keys."""
    items = ", ".join(f'"{k}":"{v}"' for k, v in sorted((m or {}).items()))
    return GoRepr(f"map[string]string{{{items}}}")


def go_strings(items: Any, type_name: str = "string") -> GoRepr:
    return GoRepr(f"[]{type_name}{{" + ", ".join(f'"{s}"' for s in items or []) + "}")


def inclusive_range(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


# --- names ------------------------------------------------------------------------


def dns_label_problems(value: str) -> list[str]:
    """IsDNS1123Label, including its "must not contain dots" case."""
    probs = names.dns1123_label_problems(value)
    if len(value) <= names.DNS1123_LABEL_MAX and probs and not names.dns1123_subdomain_problems(value):
        return ["must not contain dots"]
    return probs


def check_dns_label(value: str, path: str) -> Errs:
    return [errors.invalid(path, value, m) for m in dns_label_problems(value)]


def check_dns_subdomain(value: str, path: str) -> Errs:
    return [errors.invalid(path, value, m) for m in names.dns1123_subdomain_problems(value)]


def check_qualified_name(value: str, path: str) -> Errs:
    return [errors.invalid(path, value, m) for m in names.qualified_name_problems(value)]


def check_label_value(value: str, path: str) -> Errs:
    return [errors.invalid(path, value, m) for m in names.label_value_problems(value)]


def check_name(rule: str, value: str, path: str) -> Errs:
    return [errors.invalid(path, value, m) for m in names.NAME_RULES[rule](value)]


# --- ports, env, keys ---------------------------------------------------------------


def port_num_problems(port: Any) -> list[str]:
    ok = isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    return [] if ok else [inclusive_range(1, 65535)]


def port_name_problems(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def check_port_num_or_name(port: Any, path: str) -> Errs:
    if isinstance(port, str):
        return [errors.invalid(path, port, m) for m in port_name_problems(port)]
    return [errors.invalid(path, port, m) for m in port_num_problems(port)]


def env_var_name_problems(value: str) -> list[str]:
    """IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is on in v1.32)."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(not (32 <= ord(c) < 127) or c == "=" for c in value):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def _chdir_problems(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def config_map_key_problems(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(r"[-._a-zA-Z0-9]+", value):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', "
                    " or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    return errs + _chdir_problems(value)


def http_header_name_problems(value: str) -> list[str]:
    if re.fullmatch(r"[-A-Za-z0-9]+", value):
        return []
    return ["a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
            "regex used for validation is '[-A-Za-z0-9]+')"]


# --- numbers ----------------------------------------------------------------------


def check_nonnegative(value: Any, path: str) -> Errs:
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return [errors.invalid(path, value, NEGATIVE)]
    return []


def check_id(value: Any, path: str) -> Errs:
    """IsValidUserID / IsValidGroupID."""
    if isinstance(value, int) and not 0 <= value <= 2**31 - 1:
        return [errors.invalid(path, value, inclusive_range(0, 2**31 - 1))]
    return []


# --- addresses --------------------------------------------------------------------


def parse_ip_sloppy(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: like net.ParseIP but IPv4 octets may have leading zeros."""
    if not isinstance(value, str) or not value or "%" in value:
        return None
    if ":" not in value:
        parts = value.split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return None
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    try:
        return ipaddress.IPv6Address(value)
    except ValueError:
        return None


def check_ip(value: Any, path: str) -> Errs:
    if parse_ip_sloppy(value) is None:
        return [errors.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def parse_cidr_sloppy(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    ip_text, bits = value.split("/")
    ip = parse_ip_sloppy(ip_text)
    if ip is None or not bits.isdigit() or int(bits) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


def check_cidr(value: Any, path: str) -> Errs:
    if parse_cidr_sloppy(value) is None:
        return [errors.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def is_dual_stack(ips: list[Any]) -> bool:
    families = {ip.version for ip in ips}
    return len(families) == 2


def check_non_special_ip(value: str, path: str) -> Errs:
    ip = parse_ip_sloppy(value)
    if ip is None:
        return [errors.invalid(path, value, "must be a valid IP address")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    errs: Errs = []
    if ip.is_unspecified:
        errs.append(errors.invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(errors.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and not ip.is_multicast:
        errs.append(errors.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if _link_local_multicast(ip):
        errs.append(errors.invalid(path, value,
                                   "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    return ip.is_multicast and (int(ip) >> 112) & 0xF == 2


# --- paths ------------------------------------------------------------------------


def check_no_backsteps(value: str, path: str) -> Errs:
    if ".." in value.replace("\\", "/").split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def check_local_descending_path(value: str, path: str) -> Errs:
    errs: Errs = []
    if value.startswith("/"):
        errs.append(errors.invalid(path, value, "must be a relative path"))
    return errs + check_no_backsteps(value, path)


def check_local_non_reserved_path(value: str, path: str) -> Errs:
    errs = check_local_descending_path(value, path)
    if value.startswith("..") and not value.startswith("../"):
        errs.append(errors.invalid(path, value, "must not start with '..'"))
    return errs


def check_file_mode(mode: Any, path: str) -> Errs:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [errors.invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


# --- resources --------------------------------------------------------------------

_STANDARD_CONTAINER = frozenset({"cpu", "memory", "ephemeral-storage"})
_STANDARD_QUOTA = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
    "resourcequotas", "services", "replicationcontrollers", "secrets", "persistentvolumeclaims", "configmaps",
    "services.nodeports", "services.loadbalancers"})
_STANDARD = (_STANDARD_QUOTA - {"requests.storage"}) | {"storage", "requests.storage"}
_INTEGER = frozenset({"pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
                      "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"})


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    if is_native(name) or name.startswith("requests."):
        return False
    return not names.qualified_name_problems("requests." + name)


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def is_integer_resource(name: str) -> bool:
    return name in _INTEGER or is_extended(name)


def check_resource_name(name: str, path: str) -> Errs:
    errs = check_qualified_name(name, path)
    if errs:
        return errs
    if "/" not in name and name not in _STANDARD and not name.startswith(("hugepages-", "requests.hugepages-")):
        return [errors.invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def check_container_resource_name(name: str, path: str) -> Errs:
    errs = check_resource_name(name, path)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER and not is_hugepages(name):
            return errs + [errors.invalid(path, name, "must be a standard resource for containers")]
    elif not is_native(name) and not is_extended(name):
        return errs + [errors.invalid(path, name, "doesn't follow extended resource name standard")]
    return errs


def check_quota_resource_name(name: str, path: str) -> Errs:
    errs = check_resource_name(name, path)
    if "/" not in name and name not in _STANDARD_QUOTA and not name.startswith(("hugepages-", "requests.hugepages-")):
        return errs + [errors.invalid(path, name, "must be a standard resource for quota")]
    return errs


def parse_q(value: Any) -> quantity.Quantity | None:
    try:
        return quantity.parse_value(value)
    except quantity.QuantityError:
        return None


def check_quantity_value(name: str, value: Any, path: str) -> Errs:
    """ValidateResourceQuantityValue: non-negative, integral for integer resources."""
    q = parse_q(value)
    if q is None:
        return [errors.invalid(path, value, "must be a valid resource quantity")]
    errs: Errs = []
    if q.value < 0:
        errs.append(errors.invalid(path, str(q), NEGATIVE))
    if is_integer_resource(name) and q.milli_value() % 1000 != 0:
        errs.append(errors.invalid(path, str(q), "must be an integer"))
    return errs


# --- updates ----------------------------------------------------------------------


def check_immutable(new: Any, old: Any, path: str, shown: Any = None) -> Errs:
    if new != old:
        return [errors.invalid(path, new if shown is None else shown, IMMUTABLE)]
    return []
