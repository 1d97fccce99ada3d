"""The simulated shell and its tar, as kubectl exec and cp use them."""

from __future__ import annotations

import io
import tarfile

import pytest

from pocketkube.kubelet.simshell import ShellIO, SimFS, SimShell


async def run(shell: SimShell, argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    out, err, box = bytearray(), bytearray(), [stdin]

    async def read() -> bytes:
        chunk, box[0] = box[0], b""
        return chunk

    async def o(data: bytes) -> None:
        out.extend(data)

    async def e(data: bytes) -> None:
        err.extend(data)
    code = await shell.run(argv, ShellIO(read, o, e))
    return code, bytes(out), bytes(err)


@pytest.fixture
def shell() -> SimShell:
    return SimShell(SimFS(), {"HOME": "/root", "GREETING": "hello world"}, "web-1")


@pytest.mark.parametrize(("script", "code", "out", "err"), [
    ("exit 3", 3, b"", b""),
    ("echo hi; exit 4; echo never", 4, b"hi\n", b""),
    ("echo out; echo err >&2", 0, b"out\n", b"err\n"),
    ("echo $GREETING | cat", 0, b"hello world\n", b""),
    ("echo '$GREETING'", 0, b"$GREETING\n", b""),
    ("false || echo no && echo yes", 0, b"no\nyes\n", b""),
    ("true && false; echo $?", 0, b"1\n", b""),
    ("test -d /tmp && test ! -f /tmp", 0, b"", b""),
    ("[ a = b ]", 1, b"", b""),
    ("hostname", 0, b"web-1\n", b""),
    ("nosuch", 127, b"", b"sh: nosuch: not found\n"),
    ("cat /nope 2>&1", 1, b"cat: can't open '/nope': No such file or directory\n", b""),
    ("echo x > /tmp/f; echo y >> /tmp/f; cat < /tmp/f; ls /tmp", 0, b"x\ny\nf\n", b""),
    ("echo gone > /dev/null", 0, b"", b""),
    ("printf '%s=%d\\n' a 1", 0, b"a=1\n", b""),
    ("cd /tmp && pwd", 0, b"/tmp\n", b""),
    ("sh -c 'exit 2'; echo after $?", 0, b"after 2\n", b""),
])
async def test_scripts(shell: SimShell, script: str, code: int, out: bytes, err: bytes) -> None:
    assert await run(shell, ["sh", "-c", script]) == (code, out, err)


async def test_cat_and_env(shell: SimShell) -> None:
    assert await run(shell, ["cat"], b"piped") == (0, b"piped", b"")
    code, out, _ = await run(shell, ["env"])
    assert code == 0 and b"GREETING=hello world\n" in out
    assert await run(shell, ["/bin/sh"], b"echo a\nexit 6\necho b\n") == (6, b"a\n", b"")


async def test_tar_round_trip_as_kubectl_cp_does_it(shell: SimShell) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("f.txt")
        info.size = 8
        tar.addfile(info, io.BytesIO(b"payload\n"))
    assert await run(shell, ["tar", "-xmf", "-", "-C", "/tmp"], buf.getvalue()) == (0, b"", b"")
    assert shell.fs.files["/tmp/f.txt"] == b"payload\n"
    code, out, err = await run(shell, ["tar", "cf", "-", "/tmp/f.txt"])
    assert code == 0 and err == b"tar: removing leading '/' from member names\n"
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        member = tar.getmembers()[0]
        assert member.name == "tmp/f.txt"
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"payload\n"
    assert (await run(shell, ["tar", "cf", "-", "/missing"]))[0] == 1
    assert (await run(shell, ["tar", "xf", "-", "-C", "/nodir"], buf.getvalue()))[0] == 1
