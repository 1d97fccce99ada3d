"""SPDY/3.1 frames: dictionary, layout, header compression state, incremental decoding."""

from __future__ import annotations

import hashlib
import struct

import pytest

from pocketkube.apiserver.streamproto import spdy_frames as f


def test_dictionary_is_the_spdy3_constant() -> None:
    assert len(f.DICTIONARY) == 1423
    assert f.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert f.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    assert hashlib.sha256(f.DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")


ALL_FRAMES: list[f.Frame] = [
    f.SynStream(1, {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}, 0, 0, 0),
    f.SynStream(3, {"streamtype": ["data"]}, f.FLAG_FIN, 1, 3),
    f.SynReply(1, {}),
    f.SynReply(3, {"multi": ["a", "b"]}, f.FLAG_FIN),
    f.HeadersFrame(5, {"x": ["y"]}),
    f.DataFrame(1, b"payload"),
    f.DataFrame(3, b"", f.FLAG_FIN),
    f.RstStream(7, f.CANCEL),
    f.Settings([(0, f.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]),
    f.Ping(2),
    f.GoAway(5, 0),
    f.WindowUpdate(0, 4096),
]


def test_every_frame_round_trips_through_one_compression_context() -> None:
    enc, dec = f.FrameEncoder(), f.FrameDecoder()
    wire = b"".join(enc.encode(fr) for fr in ALL_FRAMES)
    assert dec.feed(wire) == ALL_FRAMES


def test_decoding_is_incremental() -> None:
    enc, dec = f.FrameEncoder(), f.FrameDecoder()
    wire = b"".join(enc.encode(fr) for fr in ALL_FRAMES)
    got: list[f.Frame] = []
    for i in range(len(wire)):
        got += dec.feed(wire[i:i + 1])
    assert got == ALL_FRAMES


def test_control_frame_layout() -> None:
    wire = f.FrameEncoder().encode(f.Ping(9))
    assert wire == struct.pack(">HHII", 0x8003, f.PING, 4, 9)
    data = f.FrameEncoder().encode(f.DataFrame(3, b"ab", f.FLAG_FIN))
    assert data == struct.pack(">II", 3, (1 << 24) | 2) + b"ab"


def test_header_block_layout_and_lowercasing() -> None:
    block = f.encode_header_block({"StreamType": ["data"], "v": ["1", "2"]})
    assert block == (struct.pack(">I", 2) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", 4) + b"data"
                     + struct.pack(">I", 1) + b"v" + struct.pack(">I", 3) + b"1\x002")
    assert f.decode_header_block(block) == {"streamtype": ["data"], "v": ["1", "2"]}


def test_unknown_control_frames_are_skipped_and_bad_input_rejected() -> None:
    dec = f.FrameDecoder()
    unknown = struct.pack(">HHI", 0x8003, 0x0A, 2) + b"zz"
    assert dec.feed(unknown + f.FrameEncoder().encode(f.Ping(1))) == [f.Ping(1)]
    with pytest.raises(f.SpdyError):
        f.FrameDecoder().feed(struct.pack(">HHI", 0x8002, f.PING, 4) + b"\0\0\0\1")
    with pytest.raises(f.SpdyError):
        f.FrameDecoder().feed(struct.pack(">HHI", 0x8003, f.SYN_REPLY, 6) + b"\0\0\0\1xx")
