"""Network value checks with upstream wording (ports, IPs, CIDRs, host names, URL paths).

Theory of operation: thin wrappers over `ipaddress` and the name regexes in
`api.validation.names` that return upstream's message strings (as
k8s.io/apimachinery/pkg/util/validation does), for networking and discovery.
"""

from __future__ import annotations

import ipaddress
import re

from pocketkube.machinery import errors
from pocketkube.machinery.errors import FieldError
from pocketkube.machinery.validation import names

_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_WILDCARD_FMT = r"\*\." + "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_RE = re.compile("^" + _WILDCARD_FMT + "$")

PORT_RANGE = "must be between 1 and 65535, inclusive"


def port_number_problems(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [PORT_RANGE]


def port_name_problems(port: str) -> list[str]:
    errs: list[str] = []
    if len(port) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    elif not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def wildcard_subdomain_problems(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {names.DNS1123_SUBDOMAIN_MAX} characters")
    if not _WILDCARD_RE.match(value):
        errs.append("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
                    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
                    f"(e.g. '*.example.com', regex used for validation is '{_WILDCARD_FMT}')")
    return errs


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """ParseIPSloppy: also accepts IPv4 with leading zeros."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        parts = value.split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return ipaddress.ip_address(".".join(str(int(p)) for p in parts))
        return None


def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """ParseCIDRSloppy: host bits may be set; the network is returned."""
    if "/" not in value:
        return None
    addr, _, bits = value.partition("/")
    ip = parse_ip(addr)
    if ip is None or not bits.isdigit():
        return None
    try:
        return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)
    except ValueError:
        return None


def ipv4_problems(value: str) -> list[str]:
    ip = parse_ip(value)
    return [] if isinstance(ip, ipaddress.IPv4Address) else ["must be a valid IPv4 address"]


def ipv6_problems(value: str) -> list[str]:
    ip = parse_ip(value)
    return [] if isinstance(ip, ipaddress.IPv6Address) else ["must be a valid IPv6 address"]


def non_special_ip_problems(value: str) -> list[str]:
    """ValidateNonSpecialIP (endpoint addresses)."""
    ip = parse_ip(value)
    if ip is None:
        return ["must be a valid IP address"]
    if ip.is_unspecified:
        return [f"may not be unspecified ({value})"]
    if ip.is_loopback:
        return ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]
    if ip.is_link_local:
        return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]
    if ip in ipaddress.ip_network("224.0.0.0/24") or ip in ipaddress.ip_network("ff02::/16"):
        return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]
    return []


def fqdn_problems(value: str) -> list[str]:
    """IsFullyQualifiedDomainName (messages without the path prefix)."""
    if not value:
        return ["Required value"]
    name = value[:-1] if value.endswith(".") else value
    errs = names.dns1123_subdomain_problems(name)
    if errs:
        return errs
    if len(name.split(".")) < 2:
        return ["should be a domain with at least two segments separated by dots"]
    return []


def domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    """IsDomainPrefixedPath (managedBy, IngressClass controller)."""
    if not value:
        return [errors.required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [errors.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [errors.invalid(path, host, m) for m in names.dns1123_subdomain_problems(host)]
    if not re.fullmatch(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+", rest):
        errs.append(errors.invalid(path, rest,
                                   "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"))
    return errs
