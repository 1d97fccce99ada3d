"""`tar` for the simulated shell: what `kubectl cp` runs in a container, over the in-memory filesystem.

Theory of operation: kubectl cp runs `tar cf - PATH` (pod to local; the
archive goes to stdout, member names without the leading "/" as busybox and
GNU tar write them, with busybox's warning on stderr) and `tar -xmf - -C DIR`
(local to pod; the archive arrives on stdin and ends with stdin EOF). Flags
may be bundled with or without a dash (`cf`, `-xmf`, `-x -f -`); `v` lists
members, `z` gzips, `t` lists an archive, `m` is accepted and ignored.
"""

from __future__ import annotations

import io
import tarfile

from pocketkube.kubelet.simshell import ShellIO, SimFS, norm


def _parse(args: list[str]) -> tuple[set[str], str, str, list[str]]:
    flags: set[str] = set()
    archive, directory, paths = "", "", []
    it = iter(args)
    first = True
    for a in it:
        if a == "-C":
            directory = next(it, "")
        elif (a.startswith("-") and a != "-") or (first and not a.startswith("/") and set(a) <= set("cxtvfzmpo")):
            letters = a.lstrip("-")
            flags |= set(letters)
            if "f" in letters:
                archive = next(it, "-")
        else:
            paths.append(a)
        first = False
    return flags, archive, directory, paths


def _add(tar: tarfile.TarFile, fs: SimFS, path: str, name: str) -> None:
    if path in fs.dirs:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for child in fs.children(path):
            _add(tar, fs, f"{path.rstrip('/')}/{child}", f"{name}/{child}")
    else:
        data = fs.files[path]
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))


async def _create(fs: SimFS, cwd: str, flags: set[str], paths: list[str], sio: ShellIO) -> int:
    buf = io.BytesIO()
    code = 0
    with tarfile.open(fileobj=buf, mode="w:gz" if "z" in flags else "w", format=tarfile.GNU_FORMAT) as tar:
        for p in paths:
            path = norm(p, cwd)
            if path not in fs.files and path not in fs.dirs:
                await sio.err(f"tar: {p}: No such file or directory\n".encode())
                code = 1
                continue
            if p.startswith("/"):
                await sio.err(b"tar: removing leading '/' from member names\n")
            _add(tar, fs, path, p.lstrip("/") or ".")
    await sio.out(buf.getvalue())
    return code


async def _extract(fs: SimFS, base: str, data: bytes, list_only: bool, verbose: bool, sio: ShellIO) -> int:
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as e:
        await sio.err(f"tar: invalid tar magic ({e})\n".encode())
        return 1
    with tar:
        for member in tar.getmembers():
            if list_only or verbose:
                await sio.out(f"{member.name}\n".encode())
            if list_only:
                continue
            path = norm(member.name, base)
            if member.isdir():
                fs.mkdir(path)
            elif member.isfile():
                f = tar.extractfile(member)
                fs.write(path, f.read() if f is not None else b"")
    return 0


async def run_tar(fs: SimFS, cwd: str, args: list[str], sio: ShellIO) -> int:
    flags, archive, directory, paths = _parse(args)
    base = norm(directory or ".", cwd)
    if directory and base not in fs.dirs:
        await sio.err(f"tar: can't change directory to '{directory}': No such file or directory\n".encode())
        return 1
    if "c" in flags:
        return await _create(fs, base, flags, paths, sio)
    if "x" in flags or "t" in flags:
        if archive and archive != "-":
            data = fs.files.get(norm(archive, cwd), b"")
        else:
            data = await sio.read_all()
        return await _extract(fs, base, data, "t" in flags, "v" in flags, sio)
    await sio.err(b"tar: need at least one of -c, -x, -t\n")
    return 1
