"""SPDY/3.1 frames: the binary layout, header blocks, and the zlib dictionary.

Theory of operation: a control frame is `1 | version(15) | type(16)` then
`flags(8) | length(24)` and its payload; a data frame is `0 | stream id(31)`
then `flags(8) | length(24)` and the data. SYN_STREAM, SYN_REPLY and HEADERS
carry a header block: a 32-bit pair count, then 32-bit-length-prefixed names
(lowercase) and values (several values joined by NUL), compressed with one
zlib stream per direction that is primed with the SPDY/3 dictionary and
flushed with Z_SYNC_FLUSH after each block (so the decompressor of the peer
keeps state across frames). `FrameDecoder.feed` is incremental: it takes any
chunk of the byte stream and returns the complete frames so far; unknown
control frame types are skipped, as the spec requires.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
# RST_STREAM status codes.
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL = 1, 2, 3, 4, 5
INTERNAL_ERROR, FLOW_CONTROL_ERROR, STREAM_IN_USE, STREAM_ALREADY_CLOSED = 6, 7, 8, 9
SETTINGS_INITIAL_WINDOW_SIZE = 7
MAX_LENGTH = (1 << 24) - 1

Headers = dict[str, list[str]]

# The SPDY/3 header compression dictionary (a protocol constant): length-prefixed
# header names and values, then a run of common status codes, dates and types.
_DICT_TOKENS = (  # noqa: SIM905 - the spec lists them space-separated
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(t)) + t.encode() for t in _DICT_TOKENS) + _DICT_TAIL.encode()


class SpdyError(Exception):
    """A malformed frame or header block: the session must end."""


@dataclass
class DataFrame:
    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0
    associated_id: int = 0
    priority: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int = CANCEL


@dataclass
class Settings:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)
    flags: int = 0


@dataclass
class Ping:
    ping_id: int


@dataclass
class GoAway:
    last_good_stream_id: int = 0
    status: int = 0


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int


Frame = (DataFrame | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway
         | WindowUpdate)


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = b"\x00".join(x.encode() for x in values)
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        out: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (v,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + v].decode()
            pos += 4 + v
            out.setdefault(name.lower(), []).extend(value.split("\x00"))
        return out
    except (struct.error, UnicodeDecodeError) as e:
        raise SpdyError(f"bad header block: {e}") from None


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


class FrameEncoder:
    """Serializes frames; owns the compression state of one direction."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def _block(self, headers: Headers) -> bytes:
        return self._z.compress(encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, f: Frame) -> bytes:
        if isinstance(f, DataFrame):
            return struct.pack(">II", f.stream_id & 0x7FFFFFFF, (f.flags << 24) | len(f.data)) + f.data
        if isinstance(f, SynStream):
            head = struct.pack(">IIBB", f.stream_id, f.associated_id, (f.priority & 7) << 5, 0)
            return _control(SYN_STREAM, f.flags, head + self._block(f.headers))
        if isinstance(f, SynReply):
            return _control(SYN_REPLY, f.flags, struct.pack(">I", f.stream_id) + self._block(f.headers))
        if isinstance(f, HeadersFrame):
            return _control(HEADERS, f.flags, struct.pack(">I", f.stream_id) + self._block(f.headers))
        if isinstance(f, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", f.stream_id, f.status))
        if isinstance(f, Settings):
            body = b"".join(struct.pack(">II", (fl << 24) | i, v) for fl, i, v in f.entries)
            return _control(SETTINGS, f.flags, struct.pack(">I", len(f.entries)) + body)
        if isinstance(f, Ping):
            return _control(PING, 0, struct.pack(">I", f.ping_id))
        if isinstance(f, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", f.last_good_stream_id, f.status))
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", f.stream_id, f.delta))


class FrameDecoder:
    """Incremental parser of a SPDY byte stream; owns the decompression state of one direction."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._z = zlib.decompressobj(15, DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = flags_len >> 24
            if word & 0x80000000:
                f = self._control((word >> 16) & 0x7FFF, word & 0xFFFF, flags, payload)
                if f is not None:
                    frames.append(f)
            else:
                frames.append(DataFrame(word & 0x7FFFFFFF, payload, flags))
        return frames

    def _headers(self, compressed: bytes) -> Headers:
        try:
            return decode_header_block(self._z.decompress(compressed))
        except zlib.error as e:
            raise SpdyError(f"header decompression failed: {e}") from None

    def _control(self, version: int, ftype: int, flags: int, p: bytes) -> Frame | None:
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        try:
            return self._parse(ftype, flags, p)
        except struct.error as e:
            raise SpdyError(f"short control frame type {ftype}: {e}") from None

    def _parse(self, ftype: int, flags: int, p: bytes) -> Frame | None:
        if ftype == SYN_STREAM:
            sid, assoc, prio = struct.unpack_from(">IIB", p, 0)
            return SynStream(sid & 0x7FFFFFFF, self._headers(p[10:]), flags, assoc & 0x7FFFFFFF, prio >> 5)
        if ftype in (SYN_REPLY, HEADERS):
            (sid,) = struct.unpack_from(">I", p, 0)
            cls = SynReply if ftype == SYN_REPLY else HeadersFrame
            return cls(sid & 0x7FFFFFFF, self._headers(p[4:]), flags)
        if ftype == RST_STREAM:
            sid, status = struct.unpack_from(">II", p, 0)
            return RstStream(sid & 0x7FFFFFFF, status)
        if ftype == SETTINGS:
            (n,) = struct.unpack_from(">I", p, 0)
            entries = []
            for i in range(n):
                fid, value = struct.unpack_from(">II", p, 4 + 8 * i)
                entries.append((fid >> 24, fid & 0xFFFFFF, value))
            return Settings(entries, flags)
        if ftype == PING:
            return Ping(struct.unpack_from(">I", p, 0)[0])
        if ftype == GOAWAY:
            last, status = struct.unpack_from(">II", p, 0) if len(p) >= 8 else (*struct.unpack_from(">I", p, 0), 0)
            return GoAway(last & 0x7FFFFFFF, status)
        if ftype == WINDOW_UPDATE:
            sid, delta = struct.unpack_from(">II", p, 0)
            return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return None
