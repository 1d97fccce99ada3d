"""Starting, stopping and deleting a profile's cluster (what the CLI commands do).

Theory of operation: `start` prepares the profile (settings, PKI), launches the
supervisor detached from the terminal (own session, output to the profile's
logs), then polls the apiserver's /readyz over HTTPS with the admin certificate
until it answers, reporting each step through a callback, and finally merges
the kubeconfig context. `stop` signals the supervisor and waits for it (and so
every part) to exit. `delete` is stop + removal of the state folder and the
kubeconfig entries; a profile whose node ran containers first has every host
trace of them removed (kubelet/nodepurge.py: processes, mounts, cgroups, the
CNI bridge and chains it created). The node runtime (`containerd` runs real
pods, `simulated` runs none) is chosen at the first start and kept in the
profile's settings (extra["node_runtime"]); the default is containerd where
the host can run it (root, containerd, runc, CNI plugins), else simulated with
a notice; $POCKETKUBE_NODE_RUNTIME overrides that default. Errors are `LifecycleError`s with one-line messages; nothing
is destroyed on a failed start.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from pocketkube.cli import kubeconfig, node_cmd
from pocketkube.cli.pki import PKI
from pocketkube.cli.profile import Profile, ProfileError, Settings
from pocketkube.kubelet import nodepurge
from pocketkube.kubelet.noderuntime import missing_prerequisites

READY_TIMEOUT = 60.0
CONTROLLERS = ("controller-manager", "scheduler")  # the components `start` waits for beside the apiserver
STOP_TIMEOUT = 30.0
NODE_RUNTIMES = ("containerd", "simulated")
NODE_RUNTIME_ENV = "POCKETKUBE_NODE_RUNTIME"

Progress = Callable[[str], None]


class LifecycleError(Exception):
    pass


@dataclass
class StartResult:
    server: str
    already_running: bool
    seconds: float
    notice: str = ""


def choose_node_runtime(settings: Settings, wanted: str | None) -> str:
    """The profile's node runtime: kept once chosen; the first start takes `wanted` or the default."""
    stored = settings.extra.get("node_runtime")
    if stored:
        if wanted and wanted != stored:
            raise LifecycleError(f'this profile runs a {stored} node; delete it to use --node-runtime {wanted}')
        return str(stored)
    choice = wanted or os.environ.get(NODE_RUNTIME_ENV) or ""
    if choice and choice not in NODE_RUNTIMES:
        raise LifecycleError(f'invalid node runtime "{choice}": use containerd or simulated')
    if choice == "containerd" or not choice:
        missing = missing_prerequisites()
        if missing and choice:
            raise LifecycleError(f"--node-runtime containerd needs {', '.join(missing)}")
        choice = "simulated" if missing else "containerd"
    return choice


def _noop(step: str) -> None:
    return None


def check_datastore(datastore: str) -> str:
    if datastore in ("", "sqlite"):
        return "sqlite"
    if not datastore.startswith("etcd://"):
        raise LifecycleError(f'invalid --datastore "{datastore}": use "sqlite" or etcd://host:port[,host:port...]')
    for endpoint in _etcd_endpoints(datastore):
        try:
            parsed = urlparse("//" + endpoint)
            port = parsed.port
        except ValueError:
            parsed, port = None, None
        if parsed is None or not parsed.hostname or not port:
            raise LifecycleError(f'invalid --datastore "{datastore}": "{endpoint}" is not host:port')
    _check_etcd_options(datastore)
    return datastore


def _etcd_endpoints(datastore: str) -> list[str]:
    """The host:port list of an etcd:// URL (what storage.open_store dials), path and options left out."""
    netloc = datastore[len("etcd://"):]
    for sep in "/?#":
        netloc = netloc.split(sep, 1)[0]
    return netloc.split(",")


def _check_etcd_options(datastore: str) -> None:
    """Refuse what storage.open_store would refuse later: a path, unknown options, a bad timeout."""
    rest = datastore[len("etcd://"):]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    path, _, query = rest[cut:].partition("?")
    bad = f'invalid --datastore "{datastore}"'
    if path not in ("", "/"):
        raise LifecycleError(f'{bad}: an etcd URL has no path (use ?prefix={path.rstrip("/")})')
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - {"prefix", "timeout"})
    if unknown:
        raise LifecycleError(f'{bad}: unknown option {", ".join(unknown)} (etcd URLs take prefix and timeout)')
    try:
        timeout = float(options.get("timeout", "5"))
    except ValueError:
        timeout = 0.0
    if not timeout > 0:
        raise LifecycleError(f"{bad}: timeout must be a positive number of seconds")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port() -> int:
    for port in range(6443, 6543):
        if port_free(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_ssl_context(profile: Profile) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(profile.pki_dir / "ca.crt"))
    ctx.load_cert_chain(str(profile.pki_dir / "admin.crt"), str(profile.pki_dir / "admin.key"))
    return ctx


def probe(profile: Profile, port: int, path: str = "/readyz", timeout: float = 2.0) -> tuple[int, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=admin_ssl_context(profile), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def server_url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def _prepare(profile: Profile, port: int | None, datastore: str | None) -> Settings:
    if profile.exists():
        settings = profile.load()
        if datastore and check_datastore(datastore) != settings.datastore:
            raise LifecycleError(f'profile "{profile.name}" uses datastore {settings.datastore}; delete it to '
                                 f"change the datastore")
    else:
        settings = Settings(datastore=check_datastore(datastore or "sqlite"))
    if port:
        settings.apiserver_port = port
    if not settings.apiserver_port:
        settings.apiserver_port = pick_port()
    if not port_free(settings.apiserver_port):
        raise LifecycleError(f"port {settings.apiserver_port} is in use: choose another with --apiserver-port")
    return settings


def start(profile: Profile, *, port: int | None = None, datastore: str | None = None,
          nodes: int | None = None, node_runtime: str | None = None, processes: str | None = None,
          progress: Progress = _noop) -> StartResult:
    begin = time.monotonic()
    try:
        if profile.running():
            settings = profile.load()
            _wait_ready(profile, settings.apiserver_port, None)
            _merge_kubeconfig(profile, settings.apiserver_port)
            return StartResult(server_url(settings.apiserver_port), True, 0.0)
        settings = _prepare(profile, port, datastore)
        if nodes is not None or "nodes" not in settings.extra:  # simulated nodes created at the first start
            settings.extra["nodes"] = node_cmd.DEFAULT_NODES if nodes is None else nodes
        if processes is not None:
            settings.extra["separate_processes"] = processes == "separate"
        first = "node_runtime" not in settings.extra
        settings.extra["node_runtime"] = choose_node_runtime(settings, node_runtime)
        notice = ""
        if first and settings.extra["node_runtime"] == "simulated" and not node_runtime:
            missing = missing_prerequisites()
            if missing:
                notice = f"simulated nodes (no containers run): a real node needs {', '.join(missing)}"
        kubeconfig.load(kubeconfig.default_path())  # refuse a broken kubeconfig before starting anything
    except ProfileError as e:
        raise LifecycleError(str(e)) from None
    except kubeconfig.KubeconfigError as e:
        raise LifecycleError(str(e)) from None
    if settings.datastore != "sqlite":
        progress("datastore")
        _check_etcd(settings.datastore)
    progress("certificates")
    PKI(profile.pki_dir).ensure()
    profile.save(settings)
    for d in (profile.logs_dir, profile.run_dir):
        d.mkdir(parents=True, exist_ok=True)
    (profile.run_dir / "apiserver.port").unlink(missing_ok=True)
    progress("apiserver")
    proc = _spawn_supervisor(profile)
    try:
        _wait_ready(profile, settings.apiserver_port, proc)
        progress("controllers")
        _wait_healthy(profile, CONTROLLERS, proc)
    except BaseException:
        stop(profile)  # a failed start leaves nothing running
        proc.wait(timeout=STOP_TIMEOUT)
        raise
    progress("nodes")
    try:
        node_cmd.after_start(profile, settings)
    except node_cmd.NodeCommandError as e:
        raise LifecycleError(str(e)) from None
    progress("kubeconfig")
    _merge_kubeconfig(profile, settings.apiserver_port)
    return StartResult(server_url(settings.apiserver_port), False, time.monotonic() - begin, notice)


def _check_etcd(datastore: str) -> None:
    for endpoint in _etcd_endpoints(datastore):
        host, _, port = endpoint.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=2):
                return
        except (OSError, ValueError):
            continue
    raise LifecycleError(f"datastore {datastore} is unreachable")


def _spawn_supervisor(profile: Profile) -> subprocess.Popen[bytes]:
    log = open(profile.logs_dir / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen([sys.executable, "-m", "pocketkube.cmd.supervisor", "--profile-dir",
                                 str(profile.dir)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, env=os.environ.copy())
    finally:
        log.close()


def _wait_until(profile: Profile, proc: subprocess.Popen[bytes] | None, ready: Callable[[], bool],
                timed_out: Callable[[], str]) -> None:
    """Poll `ready` every 50 ms; fail at once when the cluster's processes exit (`proc`, or the
    profile's supervisor when None), and with `timed_out()`'s words after READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if (proc is not None and proc.poll() is not None) or (proc is None and not profile.running()):
            raise LifecycleError(f"the cluster failed to start; see {profile.logs_dir}: {_log_tail(profile)}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise LifecycleError(f"{timed_out()} within {READY_TIMEOUT:.0f}s; see {profile.logs_dir}")
        time.sleep(0.05)


def _wait_ready(profile: Profile, port: int, proc: subprocess.Popen[bytes] | None) -> None:
    def answers() -> bool:
        try:
            return probe(profile, port, timeout=1.0)[0] == 200
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False

    _wait_until(profile, proc, answers, lambda: "the apiserver did not become ready")


def component_state(profile: Profile, component: str, timeout: float = 1.0) -> str:
    """minikube's per-component state: "Running" when the component's /healthz (run/<component>.port,
    loopback HTTP) answers ok, "Error" when a process hosts it but /healthz does not, else "Stopped"."""
    if profile.read_pid(component) is None:
        return "Stopped"
    try:
        port = int((profile.run_dir / f"{component}.port").read_text())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return "Error"
    return "Running" if ok else "Error"


def _wait_healthy(profile: Profile, components: tuple[str, ...], proc: subprocess.Popen[bytes]) -> None:
    """Wait until each of `components` that this profile runs serves a healthy /healthz."""
    pending = [c for c in components if c in profile.parts()]

    def all_healthy() -> bool:
        pending[:] = [c for c in pending if component_state(profile, c) != "Running"]
        return not pending

    _wait_until(profile, proc, all_healthy, lambda: f"{', '.join(pending)} did not become healthy")


def _log_tail(profile: Profile) -> str:
    for name in ("apiserver.log", "supervisor.log"):
        path = profile.logs_dir / name
        if path.exists():
            lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            if lines:
                return lines[-1][:300]
    return "no log output"


def _merge_kubeconfig(profile: Profile, port: int) -> None:
    pki = profile.pki_dir
    try:
        kubeconfig.merge(kubeconfig.default_path(), name=profile.name, server=server_url(port),
                         ca_pem=(pki / "ca.crt").read_bytes(), cert_pem=(pki / "admin.crt").read_bytes(),
                         key_pem=(pki / "admin.key").read_bytes())
    except kubeconfig.KubeconfigError as e:
        raise LifecycleError(str(e)) from None


def stop(profile: Profile, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the profile's processes; returns True if something was running."""
    pid = profile.read_pid()
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not profile.is_ours(pid):
            return True
        time.sleep(0.05)
    for component in ("apiserver", "supervisor"):
        p = profile.read_pid(component)
        if p is not None:
            os.kill(p, signal.SIGKILL)
    return True


def delete(profile: Profile) -> bool:
    """Stop and remove everything of the profile; returns True if anything existed."""
    existed = profile.dir.exists()
    stop(profile)
    if existed:
        nodepurge.purge_profile(profile.dir)
        shutil.rmtree(profile.dir)
    try:
        removed = kubeconfig.remove(kubeconfig.default_path(), profile.name)
    except kubeconfig.KubeconfigError as e:
        raise LifecycleError(str(e)) from None
    return existed or removed


def bound_port(profile: Profile) -> int | None:
    try:
        return int((profile.run_dir / "apiserver.port").read_text())
    except (OSError, ValueError):
        return None


def state_folder(profile: Profile) -> Path:
    return profile.dir
