"""The stream's wire protocol: frame header round trip, hello and pose validation."""

from __future__ import annotations

import pytest
import showroom_protocol as protocol
from showroom_protocol import FrameHeader, ProtocolError, parse_frame, parse_hello, parse_pose


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


def test_hello_modes_default_by_client_kind_and_old_hellos_still_parse() -> None:
    base = {"type": "hello", "product": "p"}
    assert parse_hello({**base, "client": "vr"}).mode == "vr"
    assert parse_hello({**base, "client": "phone"}).mode == "spin"
    assert parse_hello({**base, "client": "kiosk"}).mode == "spin"
    old = parse_hello({**base})
    assert old.mode == "vr" and not old.camera and old.intrinsics is None
    ar = parse_hello({**base, "client": "phone", "mode": "ar", "output": "overlay",
                      "intrinsics": {"fx": 1000, "fy": 1000, "cx": 640, "cy": 360, "width": 1280, "height": 720}})
    assert ar.camera and ar.output == "overlay" and ar.intrinsics == {
        "fx": 1000.0, "fy": 1000.0, "cx": 640.0, "cy": 360.0, "width": 1280.0, "height": 720.0}
    assert parse_hello(ar.to_json()) == ar
    tryon = parse_hello({**base, "mode": "tryon", "consent": True, "anchor": "neck", "mirrored": True})
    assert tryon.consent and tryon.anchor == "neck" and tryon.mirrored and tryon.output == "composite"


@pytest.mark.parametrize(("extra", "code", "words"), [
    ({"mode": "tryon"}, protocol.CLOSE_CONSENT_REQUIRED, "consent"),
    ({"mode": "tryon", "consent": "yes"}, protocol.CLOSE_BAD_HELLO, "consent"),
    ({"mode": "tryon", "consent": False}, protocol.CLOSE_CONSENT_REQUIRED, "PIPL"),
    ({"mode": "xr"}, protocol.CLOSE_BAD_HELLO, "mode"),
    ({"mode": "ar", "codec": "h264"}, protocol.CLOSE_BAD_HELLO, "h264"),
    ({"mode": "ar", "eyes": 2}, protocol.CLOSE_BAD_HELLO, "mono"),
    ({"mode": "ar", "output": "video"}, protocol.CLOSE_BAD_HELLO, "output"),
    ({"mode": "ar", "intrinsics": {"fx": 0, "fy": 1, "cx": 1, "cy": 1}}, protocol.CLOSE_BAD_HELLO, "fx"),
    ({"mode": "ar", "intrinsics": [1, 2, 3]}, protocol.CLOSE_BAD_HELLO, "intrinsics"),
    ({"mode": "tryon", "consent": True, "anchor": "nose"}, protocol.CLOSE_BAD_HELLO, "anchor"),
])
def test_camera_hellos_are_validated(extra: dict[str, object], code: int, words: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_hello({"type": "hello", "product": "p", **extra})
    assert err.value.close_code == code and words in err.value.message


def test_camera_frames_round_trip_and_bad_ones_are_refused() -> None:
    data = protocol.pack_camera_frame(2**32 + 9, 12.25, b"\xff\xd8jpeg")
    assert data[:4] == b"SRC1" and protocol.CAMERA_HEADER_SIZE == 20 and len(data) == 20 + 6
    frame = protocol.parse_camera_frame(data)
    assert (frame.seq, frame.t, frame.image) == (9, 12.25, b"\xff\xd8jpeg")
    for bad, code in ((b"SRC1", protocol.CLOSE_INVALID_DATA), (b"XXXX" + data[4:], protocol.CLOSE_INVALID_DATA),
                      (data[:4] + b"\x02" + data[5:], protocol.CLOSE_INVALID_DATA),
                      (data[:20], protocol.CLOSE_INVALID_DATA)):
        with pytest.raises(ProtocolError) as err:
            protocol.parse_camera_frame(bad)
        assert err.value.close_code == code
    with pytest.raises(ProtocolError) as err:
        protocol.parse_camera_frame(data, max_bytes=4)
    assert err.value.close_code == protocol.CLOSE_TOO_BIG
