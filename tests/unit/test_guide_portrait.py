"""The guide's portrait worked out without GL: the boxes of what visemes change, the sheet layout, the manifest,
the bust camera from the character file, and keys that follow the character file's bytes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from render_node.guide import portrait as pt
from render_node.guide.portrait_store import PortraitStore
from render_node.guide.visemes import VISEMES
from render_node.pool import RenderPool
from render_node.render.gltf import read_gltf
from tests.portrait_models import HEAD_CENTRE_M, HEAD_JOINT_M, HEAD_RADIUS_M, guide_stand_in
from tests.rig_models import bending_cylinder
from tests.tiny_renderer import make_tiny_renderer

W, H = 60, 80


def frame(fill: tuple[int, int, int, int] = (200, 150, 130, 255)) -> pt.RGBA8:
    out = np.zeros((H, W, 4), np.uint8)
    out[10:70, 10:50] = fill
    return out


def test_the_mouth_box_covers_every_pixel_a_viseme_changes_plus_the_margin() -> None:
    neutral = frame()
    a, b = neutral.copy(), neutral.copy()
    a[50:54, 25:35] = (150, 20, 30, 255)  # one viseme opens the lips here
    b[55:58, 22:30] = (40, 10, 10, 255)  # another drops the chin there
    assert pt.change_box(neutral, [a, b], margin_px=3) == (22 - 3, 50 - 3, 13 + 6, 8 + 6)
    assert pt.change_box(neutral, [a], margin_px=0) == (25, 50, 10, 4)


def test_differences_under_the_threshold_are_not_changes() -> None:
    neutral = frame()
    noisy = neutral.copy()
    noisy[20:30, 20:30, :3] += pt.DIFF_THRESHOLD  # just at the threshold: shading noise
    assert pt.change_box(neutral, [noisy]) is None
    noisy[25:28, 27:30, 3] = 0  # pixels turned transparent: alpha counts too
    assert pt.change_box(neutral, [noisy]) == (27, 25, 3, 3)


def test_a_speck_far_from_the_mouth_does_not_stretch_the_box() -> None:
    neutral = frame()
    spoken = neutral.copy()
    spoken[50:54, 25:35] = (150, 20, 30, 255)
    spoken[12, 30] = (0, 0, 0, 255)  # one hair pixel the jaw morph brushes
    spoken[66, 12:14] = (90, 60, 50, 255)  # two at the collar
    assert pt.change_box(neutral, [spoken], margin_px=1) == (24, 49, 12, 6)


def test_thin_broken_lines_next_to_the_mouth_are_covered() -> None:
    neutral = frame()
    spoken = neutral.copy()
    spoken[50:54, 25:35] = (150, 20, 30, 255)
    for k in range(6):  # the jaw's contour moved: a dotted diagonal line running off the mouth's region
        spoken[52 + 2 * k, 36 + 2 * k] = (60, 40, 40, 255)
    assert pt.change_box(neutral, [spoken], margin_px=2) == (23, 48, 49 - 23, 65 - 48)


def test_a_large_change_anywhere_counts() -> None:
    neutral = frame()
    spoken = neutral.copy()
    spoken[50:54, 25:35] = (150, 20, 30, 255)
    spoken[12:16, 20:24] = (0, 0, 0, 255)  # 16 px: a real change (a brow raised with the jaw)
    assert pt.change_box(neutral, [spoken], margin_px=0) == (20, 12, 15, 42)


def test_a_box_near_the_edge_is_clamped_to_the_frame() -> None:
    neutral = frame()
    changed = neutral.copy()
    changed[0:3, W - 3:W] = (255, 0, 0, 255)
    x, y, w, h = pt.change_box(neutral, [changed], margin_px=5) or (0, 0, 0, 0)
    assert (x, y, x + w, y + h) == (W - 8, 0, W, 8)


def test_nothing_changed_is_no_box() -> None:
    assert pt.change_box(frame(), [frame(), frame()], margin_px=4) is None


def test_a_sheet_lays_frames_left_to_right_then_top_to_bottom() -> None:
    frames = [np.full((8, 6, 4), i * 10, np.uint8) for i in range(11)]
    assert pt.sheet_grid(11) == (8, 2) and pt.sheet_grid(3) == (3, 1) and pt.sheet_grid(64) == (8, 8)
    sheet = pt.sheet(frames)
    assert sheet.shape == (16, 48, 4)
    assert sheet[0, 0, 0] == 0 and sheet[0, 7 * 6, 0] == 70 and sheet[8, 0, 0] == 80 and sheet[8, 2 * 6, 0] == 100
    assert not sheet[8:, 3 * 6:].any(), "the rest of the last row is transparent"
    for i, f in enumerate(frames):
        assert np.array_equal(pt.sheet_frame(sheet, i, (6, 8)), f)
    with pytest.raises(ValueError, match="frame 1"):
        pt.sheet([frames[0], np.zeros((4, 6, 4), np.uint8)])


def test_patches_paste_back_where_they_were_cut() -> None:
    neutral, spoken = frame(), frame()
    spoken[50:56, 24:36] = (150, 20, 30, 255)
    box = pt.change_box(neutral, [spoken], margin_px=2)
    assert box is not None
    assert np.array_equal(pt.paste(neutral, pt.crop(spoken, box), box), spoken)


def test_downsampling_keeps_edge_colours_under_partial_alpha() -> None:
    big = np.zeros((80, 60, 4), np.uint8)
    big[:, 30:] = (220, 30, 30, 255)  # red half, transparent (black) half
    small = pt.resize(big, (30, 40))
    assert small.shape == (40, 30, 4)
    edge = small[:, 14:17]
    seen = edge[edge[..., 3] > 20]
    assert len(seen) and seen[:, 0].min() > 180, "premultiplied: the red does not darken towards transparent"


def test_clip_frames_cover_a_loop_once_and_a_one_shot_to_its_last_pose() -> None:
    idle = pt.clip_times(8.0, pt.Clip("idle", 8, True))
    assert len(idle) == 64 and idle[0] == 0 and idle[-1] == pytest.approx(7.875)
    welcome = pt.clip_times(2.5, pt.Clip("welcome", 12, False))
    assert len(welcome) == 31 and welcome[-1] == 2.5
    point = pt.clip_times(2.95, pt.Clip("point", 12, False))
    assert len(point) == 37 and point[-1] == 2.95 and point[-2] == pytest.approx(35 / 12)


def test_face_shots_set_one_viseme_or_both_blinks_on_the_talk_pose() -> None:
    shots = pt.face_shots()
    assert [s.sheet for s in shots] == ["neutral"] + ["mouth"] * 15 + ["eyes"] * 2
    for shot in shots:
        assert shot.pose.animation == "talk" and shot.pose.time_s == 0
        on = {name: w for name, w in shot.pose.morph if w}
        assert set(dict(shot.pose.morph)) == {*pt.VISEME_TARGETS, *pt.BLINK_TARGETS}
        if shot.sheet == "mouth":
            assert on == {f"viseme_{VISEMES[shot.index]}": 1.0}
        elif shot.sheet == "eyes":
            assert on == {"eyeBlinkLeft": pt.EYE_FRAMES[shot.index][1], "eyeBlinkRight": pt.EYE_FRAMES[shot.index][1]}
        else:
            assert on == {}


def test_the_bust_camera_faces_the_character_and_frames_hair_to_chest(tmp_path: Path) -> None:
    character = pt.character_of(read_gltf(guide_stand_in(tmp_path / "guide.glb")))
    assert character.head_m == pytest.approx(HEAD_JOINT_M)
    assert character.top_m == pytest.approx(HEAD_CENTRE_M[1] + HEAD_RADIUS_M, abs=1e-4)
    assert dict(character.clips) == {"idle": 1.0, "talk": 0.5, "welcome": 0.25, "point": 0.25}
    view = pt.bust_view(character, (360, 480))
    assert view.pose.orientation_xyzw == (0, 0, 0, 1), "looks along -Z at the character's front"
    cam = np.array(view.pose.position_m)
    assert cam[0] == pytest.approx(0) and cam[2] > character.head_m[2] + 0.3
    k = view.intrinsics
    assert (k.width_px, k.height_px) == (360, 480)

    def row(y_m: float) -> float:  # pixel row of a point at the head's depth
        return float(k.cy - k.fy * (y_m - cam[1]) / (cam[2] - character.head_m[2]))

    assert row(character.top_m) == pytest.approx(pt.HAIR_MARGIN * 480, abs=1)
    assert character.feet_m == pytest.approx(0.0, abs=1e-4)
    chest = character.feet_m + pt.CHEST_HEIGHT * (character.top_m - character.feet_m)
    assert row(chest) == pytest.approx(480, abs=1), "the frame ends at mid-chest"


def test_a_character_without_a_head_joint_or_visemes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(pt.PortraitUnavailable, match="Head"):
        pt.character_of(read_gltf(bending_cylinder(tmp_path / "cylinder.glb")))


def test_the_manifest_names_every_sheet_and_its_layout() -> None:
    m = pt.manifest("ab" * 16, "kiosk", (360, 480), {"idle": 64, "talk": 32, "welcome": 31, "point": 37},
                    (150, 250, 60, 40), (120, 180, 120, 30))
    assert m["version"] == pt.PORTRAIT_VERSION and m["key"] == "ab" * 16 and m["frame"] == [360, 480]
    assert m["clips"]["idle"] == {"sheet": f"/guide/portrait/{'ab' * 16}/idle.webp", "fps": 8, "frames": 64,
                                  "cols": 8, "loop": True}
    assert m["clips"]["welcome"]["fps"] == 12 and m["clips"]["welcome"]["loop"] is False
    assert m["clips"]["point"]["frames"] == 37 and m["clips"]["talk"]["loop"] is True
    assert m["mouth"] == {"box": [150, 250, 60, 40], "sheet": f"/guide/portrait/{'ab' * 16}/mouth.webp", "cols": 8,
                          "visemes": list(VISEMES)}
    assert m["eyes"]["frames"] == ["half", "closed"] and m["eyes"]["box"] == [120, 180, 120, 30]
    assert m["mouth"]["visemes"][:3] == ["sil", "PP", "FF"] and len(m["mouth"]["visemes"]) == 15


def test_the_key_follows_the_character_files_bytes_not_its_date(tmp_path: Path) -> None:
    glb = guide_stand_in(tmp_path / "assets" / "guide" / "guide.glb")
    store = PortraitStore(tmp_path / "cache", RenderPool(make_tiny_renderer, workers=0), tmp_path / "assets",
                          renderer_version="r1")
    kiosk, phone = store.key("kiosk"), store.key("phone")
    assert kiosk != phone and len(kiosk) == 32
    data = glb.read_bytes()
    glb.write_bytes(data)
    os.utime(glb, ns=(1, 1))
    assert store.key("kiosk") == kiosk, "the same bytes, a new date: the same frames"
    glb.write_bytes(data[:-4] + b"    ")
    assert store.key("kiosk") != kiosk, "other bytes: other frames"
    other = PortraitStore(tmp_path / "cache", RenderPool(make_tiny_renderer, workers=0), tmp_path / "assets",
                          renderer_version="r2")
    glb.write_bytes(data)
    assert other.key("kiosk") != kiosk, "another renderer: other frames"


def test_no_character_file_is_guide_not_built(tmp_path: Path) -> None:
    store = PortraitStore(tmp_path / "cache", RenderPool(make_tiny_renderer, workers=0), tmp_path / "assets",
                          renderer_version="r1")
    with pytest.raises(pt.GuideNotBuilt):
        store.key("kiosk")
    with pytest.raises(Exception, match="no portrait sheet"):
        store.sheet_path("0" * 32, "idle")
    with pytest.raises(Exception, match="no portrait sheet"):
        store.sheet_path("../../etc", "idle")
