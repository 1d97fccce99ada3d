"""lifecycle: datastore flag checking and the small pure helpers (no cluster is started here)."""

from __future__ import annotations

import socket

import pytest

from pocketkube.cli import lifecycle
from pocketkube.cli.lifecycle import LifecycleError


@pytest.mark.parametrize("value,expected", [
    ("", "sqlite"),
    ("sqlite", "sqlite"),
    ("etcd://127.0.0.1:2379", "etcd://127.0.0.1:2379"),
    ("etcd://10.0.0.1:2379,10.0.0.2:2379", "etcd://10.0.0.1:2379,10.0.0.2:2379"),
    ("etcd://etcd.example.com:2379", "etcd://etcd.example.com:2379"),
    ("etcd://[::1]:2379", "etcd://[::1]:2379"),
])
def test_valid_datastores(value: str, expected: str) -> None:
    assert lifecycle.check_datastore(value) == expected


@pytest.mark.parametrize("value", ["mysql://localhost", "postgres://x:5432", "ETCD://h:2379", "/var/lib/state.db",
                                   "sqlite://", "http://127.0.0.1:2379"])
def test_unknown_datastore_kinds(value: str) -> None:
    with pytest.raises(LifecycleError) as e:
        lifecycle.check_datastore(value)
    assert str(e.value) == f'invalid --datastore "{value}": use "sqlite" or etcd://host:port[,host:port...]'


@pytest.mark.parametrize("value,endpoint", [
    ("etcd://", ""),
    ("etcd://127.0.0.1", "127.0.0.1"),
    ("etcd://127.0.0.1:", "127.0.0.1:"),
    ("etcd://127.0.0.1:abc", "127.0.0.1:abc"),
    ("etcd://127.0.0.1:0", "127.0.0.1:0"),
    ("etcd://127.0.0.1:99999", "127.0.0.1:99999"),
    ("etcd://:2379", ":2379"),
    ("etcd://127.0.0.1:2379,", ""),
    ("etcd://a:1,,b:2", ""),
    ("etcd://[::1]", "[::1]"),
])
def test_bad_etcd_endpoints(value: str, endpoint: str) -> None:
    with pytest.raises(LifecycleError) as e:
        lifecycle.check_datastore(value)
    assert str(e.value) == f'invalid --datastore "{value}": "{endpoint}" is not host:port'


@pytest.mark.parametrize("url", ["etcd://127.0.0.1:1/", "etcd://127.0.0.1:1?prefix=/pocketkube"])
def test_etcd_reachability_check_handles_paths_and_options(url: str) -> None:
    lifecycle.check_datastore(url)
    with pytest.raises(LifecycleError, match="is unreachable"):
        lifecycle._check_etcd(url)


@pytest.mark.parametrize("url,why", [
    ("etcd://127.0.0.1:2379?prefx=/pk", "unknown option prefx (etcd URLs take prefix and timeout)"),
    ("etcd://127.0.0.1:2379?timeout=0", "timeout must be a positive number of seconds"),
    ("etcd://127.0.0.1:2379?timeout=soon", "timeout must be a positive number of seconds"),
    ("etcd://127.0.0.1:2379/pk", "an etcd URL has no path (use ?prefix=/pk)"),
])
def test_unknown_etcd_options_are_rejected_early(url: str, why: str) -> None:
    with pytest.raises(LifecycleError) as e:
        lifecycle.check_datastore(url)
    assert str(e.value) == f'invalid --datastore "{url}": {why}'


def test_etcd_url_with_prefix_and_timeout_is_valid() -> None:
    url = "etcd://127.0.0.1:2379,127.0.0.2:2379/?prefix=/pk&timeout=2.5"
    assert lifecycle.check_datastore(url) == url


def test_unreachable_etcd() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound but never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(LifecycleError) as e:
            lifecycle._check_etcd(f"etcd://127.0.0.1:{port}")
    assert str(e.value) == f"datastore etcd://127.0.0.1:{port} is unreachable"


def test_port_helpers() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert not lifecycle.port_free(busy)
    port = lifecycle.pick_port()
    assert lifecycle.port_free(port)
    assert lifecycle.server_url(6443) == "https://127.0.0.1:6443"
