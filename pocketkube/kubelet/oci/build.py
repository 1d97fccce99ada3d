"""The images pocketkube builds offline: busybox and the pod sandbox (pause) image.

Theory of operation:
- busybox: Debian's busybox-static binary at /bin/busybox plus one symlink per applet in /bin
  (as the official image has them all in /bin), /etc/passwd and /etc/group with root and nobody,
  /tmp (1777), /root, /home and /var/www. Config: PATH env, Cmd ["sh"].
- pause: the upstream pause is a ~40-line C program; ours (PAUSE_C, written for pocketkube) does
  the same three things: exit 0 on SIGINT/SIGTERM, reap children on SIGCHLD, sleep forever. It is
  compiled with `gcc -static -Os -s` at build time (glibc static is part of libc6-dev) into an
  image holding only /pause, run as 65535:65535 like the upstream image. Without gcc the image
  is a busybox-based stand-in (`/bin/sh` loop that traps TERM and waits): it behaves the same for
  the kubelet and is only larger. The config label io.pocketkube.pause-flavour says which it is.
- Both archives are cached in a folder under a name derived from a hash of every input (the
  busybox binary, the C source, the builder version), so a build runs once per machine; the
  output is reproducible (layout.py), so a rebuild yields the same digests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pocketkube.kubelet.oci.layout import BuiltImage, Entry, ImageConfig, build_image, write_oci_archive

BUSYBOX_IMAGE = "docker.io/library/busybox:latest"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
BUSYBOX_BINARY = "/bin/busybox"
BUILDER_VERSION = "1"
PAUSE_FLAVOUR_LABEL = "io.pocketkube.pause-flavour"

PAUSE_C = r"""
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }
static void on_child(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
    struct sigaction stop = {0}, child = {0};
    stop.sa_handler = on_stop;
    child.sa_handler = on_child;
    child.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
        sigaction(SIGCHLD, &child, NULL) < 0)
        return 1;
    for (;;) pause();
}
"""

_PAUSE_SH = "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done"


def _base_entries() -> list[Entry]:
    passwd = (b"root:x:0:0:root:/root:/bin/sh\n"
              b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
              b"nobody:x:65534:65534:nobody:/home:/bin/false\n")
    group = b"root:x:0:\ndaemon:x:1:\nnobody:x:65534:\n"
    return [
        Entry("etc", "dir", 0o755), Entry("etc/passwd", data=passwd), Entry("etc/group", data=group),
        Entry("tmp", "dir", 0o1777), Entry("root", "dir", 0o700), Entry("home", "dir", 0o755),
        Entry("var", "dir", 0o755), Entry("var/www", "dir", 0o755), Entry("bin", "dir", 0o755),
    ]


def busybox_applets(binary: str = BUSYBOX_BINARY) -> list[str]:
    out = subprocess.run([binary, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({a for a in out.split() if a and a != "busybox" and "/" not in a})


def busybox_entries(binary: str = BUSYBOX_BINARY) -> list[Entry]:
    entries = _base_entries()
    entries.append(Entry("bin/busybox", mode=0o755, data=Path(binary).read_bytes()))
    entries += [Entry(f"bin/{a}", "symlink", 0o777, target="busybox") for a in busybox_applets(binary)]
    return entries


def build_busybox(name: str = BUSYBOX_IMAGE, binary: str = BUSYBOX_BINARY) -> BuiltImage:
    return build_image(name, [busybox_entries(binary)], ImageConfig(cmd=("sh",)))


def compile_pause(gcc: str = "gcc") -> bytes | None:
    """The static pause binary, or None when no working gcc/static glibc is available."""
    if shutil.which(gcc) is None:
        return None
    with tempfile.TemporaryDirectory(prefix="pocketkube-pause-") as tmp:
        src, out = Path(tmp) / "pause.c", Path(tmp) / "pause"
        src.write_text(PAUSE_C)
        result = subprocess.run([gcc, "-static", "-Os", "-s", "-o", str(out), str(src)],
                                capture_output=True, check=False)
        if result.returncode != 0 or not out.exists():
            return None
        return out.read_bytes()


def build_pause(name: str = PAUSE_IMAGE, binary: bytes | None = None,
                busybox: str = BUSYBOX_BINARY) -> BuiltImage:
    """The sandbox image: the compiled pause program, or the busybox stand-in when `binary` is None."""
    config_user = "65535:65535"
    if binary is not None:
        layer = [Entry("pause", mode=0o755, data=binary)]
        return build_image(name, [layer], ImageConfig(entrypoint=("/pause",), env=(), user=config_user,
                                                      labels={PAUSE_FLAVOUR_LABEL: "static-c"}))
    layer = [Entry("bin", "dir", 0o755), Entry("bin/busybox", mode=0o755, data=Path(busybox).read_bytes())]
    return build_image(name, [layer], ImageConfig(
        entrypoint=("/bin/busybox", "sh", "-c", _PAUSE_SH), env=(), user=config_user,
        labels={PAUSE_FLAVOUR_LABEL: "busybox"}))


def _inputs_key(binary: str) -> str:
    h = hashlib.sha256(BUILDER_VERSION.encode())
    h.update(Path(binary).read_bytes())
    h.update(PAUSE_C.encode())
    h.update(b"gcc" if shutil.which("gcc") else b"no-gcc")
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pocketkube" / "images"


def ensure_builtin_images(cache_dir: Path | None = None, binary: str = BUSYBOX_BINARY) -> dict[str, Path]:
    """Build (once) the busybox and pause OCI archives; returns {image name: archive path}."""
    cache = cache_dir or default_cache_dir()
    key = _inputs_key(binary)
    paths = {BUSYBOX_IMAGE: cache / f"busybox-{key}.tar", PAUSE_IMAGE: cache / f"pause-{key}.tar"}
    if not paths[BUSYBOX_IMAGE].exists():
        write_oci_archive(paths[BUSYBOX_IMAGE], [build_busybox(binary=binary)])
    if not paths[PAUSE_IMAGE].exists():
        write_oci_archive(paths[PAUSE_IMAGE], [build_pause(binary=compile_pause(), busybox=binary)])
    return paths

