"""The stream's wire protocol: frame header round trip, hello and pose validation."""

from __future__ import annotations

import pytest

from render_node import protocol
from render_node.protocol import FrameHeader, ProtocolError, parse_frame, parse_hello, parse_pose


def _header(**kw: object) -> FrameHeader:
    base: dict[str, object] = dict(codec="jpeg", keyframe=True, eyes=2, quality=80, width_px=1920, height_px=1080,
                                   seq=2**32 + 5, frame_no=9, client_t=12.5, t_receive=100.0, t_render_start=100.001,
                                   t_render_end=100.02, t_encode_end=100.023, t_send=100.024, payload_size=3)
    base.update(kw)
    return FrameHeader(**base)  # type: ignore[arg-type]


def test_a_frame_header_round_trips_and_is_76_bytes() -> None:
    data = _header().pack() + b"abc"
    assert protocol.HEADER_SIZE == 76 and data[:4] == b"SRF1"
    header, payload = parse_frame(data)
    assert payload == b"abc"
    assert header.seq == 5, "sequence numbers wrap at 2^32"
    assert header.stereo and header.keyframe and header.codec == "jpeg"
    assert (header.t_send - header.t_receive) == pytest.approx(0.024)


@pytest.mark.parametrize("mutate", [
    lambda d: b"XXXX" + d[4:],
    lambda d: d[:4] + bytes([9]) + d[5:],
    lambda d: d[:-1],
    lambda d: d[:20],
])
def test_broken_frames_are_rejected(mutate: object) -> None:
    data = _header().pack() + b"abc"
    with pytest.raises(ProtocolError):
        parse_frame(mutate(data))  # type: ignore[operator]


def test_hello_defaults_and_limits() -> None:
    h = parse_hello({"type": "hello", "client": "vr", "product": "ring", "viewport": {"width": 960, "height": 1080},
                     "eyes": 2})
    assert (h.width_px, h.height_px, h.eyes, h.codec, h.fov_deg) == (960, 1080, 2, "jpeg", 90.0)
    for bad in ({"eyes": 3}, {"codec": "gif"}, {"viewport": {"width": 99999, "height": 10}}, {"client": "tv"},
                {"product": ""}, {"fov_deg": "wide"}, {"type": "pose"}):
        msg = {"type": "hello", "client": "vr", "product": "ring", "viewport": {"width": 64, "height": 64}}
        msg.update(bad)
        with pytest.raises(ProtocolError) as info:
            parse_hello(msg)
        assert info.value.close_code == protocol.CLOSE_BAD_HELLO


def test_poses_are_validated_and_normalised() -> None:
    p = parse_pose({"type": "pose", "seq": 3, "t": 1.5, "position": [0, 1, 2], "orientation": [0, 0, 0, 1.2]})
    assert p.orientation_xyzw == (0.0, 0.0, 0.0, 1.0) and p.position_m == (0.0, 1.0, 2.0)
    for bad in ({"seq": -1}, {"seq": True}, {"position": [0, 0]}, {"orientation": [0, 0, 0, 0]},
                {"position": [0, float("nan"), 0]}, {"t": "now"}):
        msg = {"type": "pose", "seq": 1, "t": 0, "position": [0, 0, 0], "orientation": [0, 0, 0, 1]}
        msg.update(bad)
        with pytest.raises(ProtocolError):
            parse_pose(msg)
