"""The WebSocket channel protocol: messages, close signal, Status objects, resize."""

from __future__ import annotations

import orjson
import pytest

from pocketkube.apiserver.streamproto import channels as ch


def test_frames_and_close_signal() -> None:
    assert ch.frame(ch.STDOUT, b"hi") == b"\x01hi"
    assert ch.close_frame(ch.STDIN) == b"\xff\x00"
    assert ch.parse_message(b"\x00abc", ch.V5) == ch.Message(0, b"abc")
    assert ch.parse_message(b"\xff\x00", ch.V5) == ch.Message(0, closed=True)
    # v4 has no close signal: 255 is just a channel number
    assert ch.parse_message(b"\xff\x00", ch.V4) == ch.Message(255, b"\x00")
    assert ch.parse_message(b"", ch.V5) is None


def test_negotiation() -> None:
    assert ch.negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"], ch.WEBSOCKET_PROTOCOLS) == ch.V5
    assert ch.negotiate(["channel.k8s.io"], ch.WEBSOCKET_PROTOCOLS) is None
    assert ch.split_header_list(["v5.channel.k8s.io, v4.channel.k8s.io", "x"]) == [ch.V5, ch.V4, "x"]


def test_status_objects_round_trip() -> None:
    assert orjson.loads(ch.exit_status(0)) == {"metadata": {}, "status": "Success"}
    failure = orjson.loads(ch.exit_status(3, ["sh", "-c", "exit 3"]))
    assert failure["reason"] == "NonZeroExitCode"
    assert failure["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert failure["message"] == ("command terminated with non-zero exit code: error executing command "
                                  "[sh -c exit 3], exit code 3")
    assert ch.exit_code_of(ch.exit_status(3)) == 3
    assert ch.exit_code_of(ch.success_status()) == 0
    assert ch.exit_code_of(b"") == 0
    with pytest.raises(ch.RemoteError, match="boom"):
        ch.exit_code_of(ch.error_status("boom"))
    with pytest.raises(ch.RemoteError, match="plain text"):
        ch.exit_code_of(b"plain text")


def test_resize_messages() -> None:
    assert ch.parse_resizes(b'{"Width":100,"Height":30}\n') == [(100, 30)]
    assert ch.parse_resizes(b'{"Width":1,"Height":2}{"Width":3,"Height":4}') == [(1, 2), (3, 4)]
    assert ch.parse_resizes(b"garbage") == []
