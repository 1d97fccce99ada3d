"""A tiny in-process shell for simulated containers: enough for kubectl exec, cp and tests.

Theory of operation: a simulated container has no processes, so `kubectl exec`
runs commands here against the container's in-memory filesystem (`SimFS`) and
environment. `SimShell.run(argv, io)` returns the exit code; `io` gives stdin
(async reads, b"" at EOF) and output callbacks. Supported, and nothing more:

- builtins: echo [-n], printf FMT [ARGS] (%s, %d, \\n, \\t), cat [FILE|-]...,
  exit [N], true, false, hostname, env, printenv [NAME], pwd, cd DIR,
  test / [ (-d -f -e -z -n, = !=, !), ls [PATH], mkdir [-p], rm [-r] [-f],
  sleep N, tar (c|x|t with f, v, m, z and -C DIR; "-" is stdin/stdout),
  sh|/bin/sh [-c SCRIPT] (without -c: reads lines from stdin, with a "/ # "
  prompt in TTY mode);
- scripts: `;`, `&&`, `||`, pipelines `a | b`, redirections `> f`, `>> f`,
  `< f`, `$VAR`, `${VAR}`, `$?` (not inside single quotes), quoting via shlex.
Anything else prints `sh: NAME: not found` and exits 127 (a direct exec of an
unknown binary is reported by the caller as the OCI runtime would). No
globbing, functions, loops, subshells, here-documents or job control.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

BUILTINS = ("echo", "printf", "cat", "exit", "true", "false", "hostname", "env", "printenv", "pwd", "cd", "test",
            "[", "ls", "mkdir", "rm", "sleep", "tar", "sh")
PATH_DIRS = ("/bin", "/usr/bin", "/sbin", "/usr/sbin")


def norm(path: str, cwd: str = "/") -> str:
    parts: list[str] = []
    for p in (path if path.startswith("/") else f"{cwd}/{path}").split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/" + "/".join(parts)


@dataclass
class SimFS:
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/bin", "/etc", "/tmp", "/root", "/var", "/usr",
                                                    "/usr/bin", "/proc", "/dev"})

    def mkdir(self, path: str) -> None:
        while path not in self.dirs:
            self.dirs.add(path)
            path = path.rsplit("/", 1)[0] or "/"

    def write(self, path: str, data: bytes, append: bool = False) -> None:
        self.mkdir(path.rsplit("/", 1)[0] or "/")
        self.files[path] = (self.files.get(path, b"") if append else b"") + data

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in [*self.files, *self.dirs] if p.startswith(prefix) and p != prefix}
        return sorted(names)

    def remove(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self.files = {p: d for p, d in self.files.items() if p != path and not p.startswith(prefix)}
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)} | {"/"}


class ExitScript(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


Out = Callable[[bytes], Awaitable[None]]


@dataclass
class ShellIO:
    read: Callable[[], Awaitable[bytes]]
    out: Out
    err: Out
    tty: bool = False

    async def read_all(self) -> bytes:
        chunks = []
        while chunk := await self.read():
            chunks.append(chunk)
        return b"".join(chunks)


def _bytes_reader(data: bytes) -> Callable[[], Awaitable[bytes]]:
    box = [data]

    async def read() -> bytes:
        chunk, box[0] = box[0], b""
        return chunk
    return read


class SimShell:
    def __init__(self, fs: SimFS, env: dict[str, str], hostname: str) -> None:
        self.fs = fs
        self.env = env
        self.hostname = hostname
        self.cwd = "/"
        self.status = 0

    def knows(self, name: str) -> bool:
        return name.rsplit("/", 1)[-1] in BUILTINS

    # ------------------------------------------------------------------ scripts
    def expand(self, script: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            value = str(self.status) if name == "?" else self.env.get(name, "")
            return shlex.quote(value) if value else "''"
        pieces = re.split(r"('[^']*')", script)
        var = re.compile(r"\$\{(\w+|\?)\}|\$(\w+|\?)")
        return "".join(p if p.startswith("'") else var.sub(sub, p) for p in pieces)

    @staticmethod
    def split_lists(text: str) -> list[tuple[str, str]]:
        """(operator before, pipeline text) for each pipeline of a list; quotes respected."""
        out: list[tuple[str, str]] = []
        op, start, quote, i = ";", 0, "", 0
        while i < len(text):
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c == ";" or text.startswith(("&&", "||"), i):
                out.append((op, text[start:i]))
                op = ";" if c == ";" else text[i:i + 2]
                i += 0 if c == ";" else 1
                start = i + 1
            i += 1
        out.append((op, text[start:]))
        return out

    async def script(self, text: str, io: ShellIO) -> int:
        for op, part in self.split_lists(text):
            if op != ";" and (op == "&&") != (self.status == 0):
                continue
            lexer = shlex.shlex(self.expand(part), posix=True, punctuation_chars="&|<>")
            lexer.whitespace_split = True
            tokens = list(lexer)
            if tokens:
                self.status = await self.pipeline(tokens, io)
        return self.status

    async def pipeline(self, tokens: list[str], io: ShellIO) -> int:
        stages: list[list[str]] = [[]]
        for t in tokens:
            if t == "|":
                stages.append([])
            else:
                stages[-1].append(t)
        read, code = io.read, 0
        for n, stage in enumerate(stages):
            last = n == len(stages) - 1
            buf = bytearray()

            async def collect(data: bytes, buf: bytearray = buf) -> None:
                buf.extend(data)
            stage_io = ShellIO(read, io.out if last else collect, io.err, io.tty)
            code = await self.redirected(stage, stage_io)
            read = _bytes_reader(bytes(buf))
        return code

    async def redirected(self, argv: list[str], io: ShellIO) -> int:
        args: list[str] = []
        target, append, source = "", False, ""
        it = iter(argv)
        for a in it:
            if a == ">&":  # `>&2` sends stdout to stderr; `2>&1` stderr to stdout
                fd = next(it, "")
                if fd == "1" and args and args[-1] == "2":
                    args.pop()
                    io = ShellIO(io.read, io.out, io.out, io.tty)
                elif fd == "2":
                    io = ShellIO(io.read, io.err, io.err, io.tty)
            elif a in (">", ">>"):
                target, append = next(it, ""), a == ">>"
            elif a == "<":
                source = next(it, "")
            else:
                args.append(a)
        if source:
            path = norm(source, self.cwd)
            if path not in self.fs.files:
                await io.err(f"sh: can't open '{source}': No such file or directory\n".encode())
                return 1
            io = ShellIO(_bytes_reader(self.fs.files[path]), io.out, io.err, io.tty)
        if target == "/dev/null":
            async def discard(data: bytes) -> None:
                return None
            io = ShellIO(io.read, discard, io.err, io.tty)
        elif target:
            path, first = norm(target, self.cwd), [True]

            async def to_file(data: bytes) -> None:
                self.fs.write(path, data, append=append or not first[0])
                first[0] = False
            self.fs.write(path, b"", append=append)
            first[0] = False
            io = ShellIO(io.read, to_file, io.err, io.tty)
        return await self.run(args, io)

    # ------------------------------------------------------------------ commands
    async def run(self, argv: list[str], io: ShellIO) -> int:
        if not argv:
            return 0
        name = argv[0].rsplit("/", 1)[-1]
        handler = getattr(self, f"_cmd_{name}", None) if name in BUILTINS and name != "[" else None
        if name == "[":
            handler = self._cmd_test
        if handler is None:
            await io.err(f"sh: {argv[0]}: not found\n".encode())
            return 127
        code: int = await handler(argv[1:], io)
        return code

    async def _cmd_sh(self, args: list[str], io: ShellIO) -> int:
        try:
            if len(args) >= 2 and args[0] == "-c":
                return await self.script(args[1], io)
            if args and not args[0].startswith("-"):
                path = norm(args[0], self.cwd)
                return await self.script(self.fs.files.get(path, b"").decode(errors="replace"), io)
        except ExitScript as e:
            return e.code
        return await self.interactive(io)

    async def interactive(self, io: ShellIO) -> int:
        out = io.out
        if io.tty:
            async def out(data: bytes) -> None:
                await io.out(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        sub = ShellIO(io.read, out, out if io.tty else io.err, io.tty)
        line = bytearray()
        if io.tty:
            await out(b"/ # ")
        while chunk := await io.read():
            if io.tty:
                await out(chunk.replace(b"\r", b"\n").replace(b"\x04", b""))
                if b"\x04" in chunk and not line:
                    return self.status
            line += chunk.replace(b"\r", b"\n")
            while b"\n" in line:
                text, _, rest = bytes(line).partition(b"\n")
                line = bytearray(rest)
                try:
                    await self.script(text.decode(errors="replace"), sub)
                except ExitScript as e:
                    return e.code
                if io.tty:
                    await out(b"/ # ")
        return self.status

    async def _cmd_exit(self, args: list[str], io: ShellIO) -> int:
        raise ExitScript(int(args[0]) if args and args[0].lstrip("-").isdigit() else self.status)

    async def _cmd_echo(self, args: list[str], io: ShellIO) -> int:
        newline = not (args and args[0] == "-n")
        await io.out((" ".join(args[0 if newline else 1:]) + ("\n" if newline else "")).encode())
        return 0

    async def _cmd_printf(self, args: list[str], io: ShellIO) -> int:
        if not args:
            return 1
        fmt = args[0].replace("\\n", "\n").replace("\\t", "\t")
        values = iter(args[1:])
        text = re.sub(r"%[sd]", lambda _: next(values, ""), fmt).replace("%%", "%")
        await io.out(text.encode())
        return 0

    async def _cmd_cat(self, args: list[str], io: ShellIO) -> int:
        code = 0
        for name in args or ["-"]:
            if name == "-":
                while chunk := await io.read():
                    await io.out(chunk)
                continue
            path = norm(name, self.cwd)
            if path in self.fs.files:
                await io.out(self.fs.files[path])
            else:
                msg = "Is a directory" if path in self.fs.dirs else "No such file or directory"
                await io.err(f"cat: can't open '{name}': {msg}\n".encode())
                code = 1
        return code

    async def _cmd_true(self, args: list[str], io: ShellIO) -> int:
        return 0

    async def _cmd_false(self, args: list[str], io: ShellIO) -> int:
        return 1

    async def _cmd_hostname(self, args: list[str], io: ShellIO) -> int:
        await io.out(f"{self.hostname}\n".encode())
        return 0

    async def _cmd_env(self, args: list[str], io: ShellIO) -> int:
        await io.out("".join(f"{k}={v}\n" for k, v in self.env.items()).encode())
        return 0

    async def _cmd_printenv(self, args: list[str], io: ShellIO) -> int:
        if not args:
            return await self._cmd_env(args, io)
        found = [self.env[a] for a in args if a in self.env]
        await io.out("".join(f"{v}\n" for v in found).encode())
        return 0 if len(found) == len(args) else 1

    async def _cmd_pwd(self, args: list[str], io: ShellIO) -> int:
        await io.out(f"{self.cwd}\n".encode())
        return 0

    async def _cmd_cd(self, args: list[str], io: ShellIO) -> int:
        path = norm(args[0] if args else self.env.get("HOME", "/"), self.cwd)
        if path not in self.fs.dirs:
            await io.err(f"sh: cd: can't cd to {args[0] if args else path}: No such file or directory\n".encode())
            return 2
        self.cwd = path
        return 0

    async def _cmd_test(self, args: list[str], io: ShellIO) -> int:
        if args and args[-1] == "]":
            args = args[:-1]
        negate = bool(args) and args[0] == "!"
        args = args[1:] if negate else args
        return int(self.evaluate(args) == negate)

    def evaluate(self, args: list[str]) -> bool:
        if len(args) == 1:
            return args[0] != ""
        if len(args) == 2:
            op, value = args
            path = norm(value, self.cwd)
            checks = {"-d": path in self.fs.dirs, "-f": path in self.fs.files,
                      "-e": path in self.fs.dirs or path in self.fs.files, "-z": value == "", "-n": value != ""}
            return checks.get(op, False)
        if len(args) == 3 and args[1] in ("=", "==", "!="):
            return (args[0] == args[2]) != (args[1] == "!=")
        return False

    async def _cmd_ls(self, args: list[str], io: ShellIO) -> int:
        path = norm(args[-1] if args and not args[-1].startswith("-") else ".", self.cwd)
        if path in self.fs.files:
            await io.out(f"{args[-1]}\n".encode())
            return 0
        if path not in self.fs.dirs:
            await io.err(f"ls: {path}: No such file or directory\n".encode())
            return 1
        await io.out("".join(f"{n}\n" for n in self.fs.children(path)).encode())
        return 0

    async def _cmd_mkdir(self, args: list[str], io: ShellIO) -> int:
        for a in (a for a in args if not a.startswith("-")):
            self.fs.mkdir(norm(a, self.cwd))
        return 0

    async def _cmd_rm(self, args: list[str], io: ShellIO) -> int:
        for a in (a for a in args if not a.startswith("-")):
            self.fs.remove(norm(a, self.cwd))
        return 0

    async def _cmd_sleep(self, args: list[str], io: ShellIO) -> int:
        await asyncio.sleep(float(args[0]) if args else 0)
        return 0

    async def _cmd_tar(self, args: list[str], io: ShellIO) -> int:
        from pocketkube.kubelet.simtar import run_tar
        return await run_tar(self.fs, self.cwd, args, io)

