"""The default guide character (render_node/guide/character): built once for the module, read back through the
node's own glTF reader, and checked for what the renderer, the portrait frames and the hall rely on: names,
skin weights, a steady head while talking and gesturing, blinks that close the eyes, lips that close for PP and
a jaw that opens for aa, and a build that is atomic and idempotent."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.gltf import GltfAsset, read_model
from render_node.gltf.accessors import read_accessor
from render_node.guide.character import build, face, head
from render_node.guide.character.rig import NAMES

F64 = npt.NDArray[np.float64]

VISEMES = ["viseme_sil", "viseme_PP", "viseme_FF", "viseme_TH", "viseme_DD", "viseme_kk", "viseme_CH", "viseme_SS",
           "viseme_nn", "viseme_RR", "viseme_aa", "viseme_E", "viseme_ih", "viseme_oh", "viseme_ou"]
BLINKS = ["eyeBlinkLeft", "eyeBlinkRight"]
CLIPS = {"idle": 8.0, "talk": 4.0, "welcome": 2.5, "point": 3.0, "walk": 1.0}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, build.GuideReport]:
    assets = tmp_path_factory.mktemp("assets")
    return assets, build.ensure_guide(assets)


@pytest.fixture(scope="module")
def asset(built: tuple[Path, build.GuideReport]) -> GltfAsset:
    return read_model(built[1].glb)


def _face_mesh(asset: GltfAsset) -> int:
    assert asset.document is not None
    names = [m.get("name") for m in asset.document.json["meshes"]]
    return names.index("Face")


def _materials(asset: GltfAsset, mesh: int) -> list[str]:
    assert asset.document is not None
    mats = asset.document.json["materials"]
    return [mats[p["material"]]["name"] for p in asset.document.json["meshes"][mesh]["primitives"]]


def _deformed(asset: GltfAsset, morph: tuple[tuple[str, float], ...], animation: str | None = None,
              t_s: float = 0.0) -> dict[tuple[int, int], F64]:
    rig = asset.rig
    assert rig is not None
    index = rig.animation_index(animation)
    return {(d.mesh, d.primitive): d.positions.astype(np.float64) for d in rig.deform(index, t_s, morph)}


def test_the_guide_is_a_skinned_character_with_the_named_joints_targets_and_clips(asset: GltfAsset) -> None:
    rig = asset.rig
    assert rig is not None and rig.moves
    node_names = [n.name for n in asset.nodes]
    assert set(NAMES) <= set(node_names)
    assert len(rig.skins) == 1 and [node_names[j] for j in rig.skins[0].joints] == list(NAMES)
    face_mesh = _face_mesh(asset)
    assert list(rig.target_names[face_mesh]) == VISEMES + BLINKS
    for mesh, names in enumerate(rig.target_names):  # any mesh with targets carries the same list
        assert names == () or list(names) == VISEMES + BLINKS, mesh
    durations = {a.name: a.duration_s for a in rig.animations}
    assert durations.keys() == CLIPS.keys()
    for name, seconds in CLIPS.items():
        assert durations[name] == pytest.approx(seconds, abs=1e-3)
    lo, hi = asset.bounds()
    assert hi[1] == pytest.approx(1.66, abs=0.03) and lo[1] == pytest.approx(0.0, abs=0.005)
    assert abs((lo[0] + hi[0]) / 2) < 0.02 and abs((lo[2] + hi[2]) / 2) < 0.06
    assert 15_000 <= asset.triangle_count <= 40_000  # the hall draws her every frame on the CPU


def test_every_vertex_has_at_most_four_weights_summing_to_one_in_the_file(asset: GltfAsset) -> None:
    doc = asset.document
    assert doc is not None
    for mi, mesh in enumerate(doc.json["meshes"]):
        for p in mesh["primitives"]:
            attrs = p["attributes"]
            assert "JOINTS_1" not in attrs
            w = read_accessor(doc, attrs["WEIGHTS_0"], f"meshes[{mi}]").astype(np.float64)
            j = read_accessor(doc, attrs["JOINTS_0"], f"meshes[{mi}]")
            assert w.shape[1] == 4 and np.all(w >= 0)
            np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
            assert int(j.max()) < len(NAMES)


def _world_of(asset: GltfAsset, animation: str, t_s: float, joint: str) -> F64:
    rig = asset.rig
    assert rig is not None
    index = rig.animation_index(animation)
    assert index is not None
    node = [n.name for n in asset.nodes].index(joint)
    return rig.world_matrices(rig.animations[index].pose_at(t_s))[node]


@pytest.mark.parametrize("clip", ["talk", "welcome", "point"])
def test_the_head_stays_where_it_is_in_talk_at_zero_while_talking_and_gesturing(asset: GltfAsset, clip: str) -> None:
    for joint in ("Neck", "Head"):
        ref = _world_of(asset, "talk", 0.0, joint)
        for t in np.linspace(0.0, CLIPS[clip], 23):
            np.testing.assert_allclose(_world_of(asset, clip, float(t), joint), ref, atol=2e-4,
                                       err_msg=f"{joint} in {clip} at {t:.2f} s")


def test_the_clips_move_what_they_say(asset: GltfAsset) -> None:
    def pos(clip: str, t: float, joint: str) -> F64:
        return _world_of(asset, clip, t, joint)[:3, 3]

    # welcome: the right hand rises to chest height (inside the bust portrait's frame), palm to the guest, and
    # comes back to the talk pose; the left stays at the waist
    hand = pos("welcome", 1.2, "RightHand")
    assert hand[1] - pos("talk", 0.0, "RightHand")[1] > 0.15 and hand[1] > 1.15 and hand[2] > 0.1
    palm = _world_of(asset, "welcome", 1.2, "RightHand")[:3, :3] @ np.array([1.0, 0.0, 0.0])  # rest: palm to +x
    assert palm[2] > 0.8
    np.testing.assert_allclose(pos("welcome", 1.2, "LeftHand"), pos("talk", 0.0, "LeftHand"), atol=0.01)
    np.testing.assert_allclose(pos("welcome", 2.5, "RightHand"), pos("talk", 0.0, "RightHand"), atol=0.01)
    # point: the right hand reaches to the character's right (-X) at counter height, then comes back
    hand = pos("point", 1.5, "RightHand")
    assert hand[0] < -0.4 and 0.9 < hand[1] < 1.25
    np.testing.assert_allclose(pos("point", 3.0, "RightHand"), pos("talk", 0.0, "RightHand"), atol=0.01)
    # walk: in place, legs swing opposite; the loops end where they start
    feet = [pos("walk", t, "LeftFoot")[2] - pos("walk", t, "RightFoot")[2] for t in (0.25, 0.75)]
    assert feet[0] * feet[1] < 0 and min(abs(f) for f in feet) > 0.15
    for clip in ("walk", "idle", "talk"):
        np.testing.assert_allclose(pos(clip, 0.0, "Hips"), pos(clip, CLIPS[clip], "Hips"), atol=1e-4)
        np.testing.assert_allclose(_world_of(asset, clip, 0.0, "Head"), _world_of(asset, clip, CLIPS[clip], "Head"),
                                   atol=1e-4)
    assert abs(pos("walk", 0.3, "Hips")[0]) < 0.01 and abs(pos("walk", 0.3, "Hips")[2]) < 0.01


def test_idle_blinks_twice_through_morph_weights(asset: GltfAsset) -> None:
    rig = asset.rig
    assert rig is not None
    idle = rig.animations[rig.animation_index("idle") or 0]
    face_node = [n.name for n in asset.nodes].index("Face")
    blink = BLINKS[0]
    names = rig.target_names[_face_mesh(asset)]
    w = np.array([rig.mesh_morph_weights(idle.pose_at(float(t)))[_face_mesh(asset)][names.index(blink)]
                  for t in np.arange(0.0, 8.0, 1 / 48)])
    peaks = np.nonzero((w[1:-1] >= w[:-2]) & (w[1:-1] > w[2:]) & (w[1:-1] > 0.9))[0]
    assert len(peaks) == 2 and face_node in {c.node for c in idle.channels}
    talk = rig.animations[rig.animation_index("talk") or 0]
    assert all(c.path != "weights" for c in talk.channels)


def _lid_primitive(asset: GltfAsset) -> tuple[int, head.Shell]:
    """The Face mesh's lid primitive (its vertices in the builder's order) and the builder's description of it."""
    lids = head.lids()
    mesh = _face_mesh(asset)
    for pi, prim in enumerate(asset.meshes[mesh]):
        if len(prim.positions) == len(lids.surface.positions):
            np.testing.assert_allclose(prim.positions, head.to_world(lids.surface.positions), atol=1e-5)
            return pi, lids
    raise AssertionError("no lid primitive")


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_a_blink_at_one_closes_the_lids_and_at_zero_the_eye_is_open(asset: GltfAsset, side: str) -> None:
    pi, lids = _lid_primitive(asset)
    mesh = _face_mesh(asset)
    assert lids.lid_index is not None and lids.lam_deg is not None
    upper = lids.lid_index == head.LID_CODES.index((side, "upper"))
    lower = lids.lid_index == head.LID_CODES.index((side, "lower"))
    other = "Right" if side == "Left" else "Left"
    other_upper = lids.lid_index == head.LID_CODES.index((other, "upper"))

    def gaps(positions: F64) -> list[float]:
        """Per column of the visible lid (|azimuth| < 50 deg): lowest point of the upper lid above the highest
        of the lower (negative: they overlap)."""
        out = []
        assert lids.lam_deg is not None
        for lam in np.unique(lids.lam_deg[upper]):
            if abs(lam) > 50:
                continue
            cu, cl = upper & (lids.lam_deg == lam), lower & (lids.lam_deg == lam)
            out.append(float(positions[cu, 1].min() - positions[cl, 1].max()))
        return out

    rest = head.to_design(_deformed(asset, ())[(mesh, pi)])
    shut = head.to_design(_deformed(asset, ((f"eyeBlink{side}", 1.0),))[(mesh, pi)])
    assert min(gaps(rest)) > 0.004  # open: the eye shows between the lids
    assert max(gaps(shut)) <= 1e-4  # shut: the lids meet (or overlap) all along
    np.testing.assert_allclose(shut[other_upper], rest[other_upper], atol=1e-7)  # the other eye stays open


def _head_skin(asset: GltfAsset) -> int:
    return _materials(asset, _face_mesh(asset)).index("skin")


def _mouth_gap(rest: F64, posed: F64) -> float:
    """At the middle of the mouth (|x| < 4 mm, front): the lowest upper-lip point above the highest lower-lip
    point (upper / lower told apart in the rest pose)."""
    x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
    line = head.mouth_line(x)
    near = (np.abs(x) < 0.004) & (z > 0.072) & (np.abs(y - line) < 0.008)
    up, lo = near & (y > line), near & (y < line)
    assert up.sum() >= 2 and lo.sum() >= 2
    return float(posed[up, 1].min() - posed[lo, 1].max())


def test_viseme_pp_presses_the_lips_together(asset: GltfAsset) -> None:
    pi = _head_skin(asset)
    mesh = _face_mesh(asset)
    rest = head.to_design(_deformed(asset, ())[(mesh, pi)])  # measured in the head's design space (head.py)
    pp = head.to_design(_deformed(asset, (("viseme_PP", 1.0),))[(mesh, pi)])
    assert 0.0008 < _mouth_gap(rest, rest) < 0.0025  # at rest the lips are closed but for the thin mouth line
    assert _mouth_gap(rest, pp) <= 2e-4


def test_viseme_aa_opens_the_jaw_by_its_angle(asset: GltfAsset) -> None:
    pi = _head_skin(asset)
    mesh = _face_mesh(asset)
    rest = head.to_design(_deformed(asset, ())[(mesh, pi)])
    aa = head.to_design(_deformed(asset, (("viseme_aa", 1.0),))[(mesh, pi)])
    x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
    lower_lip = (np.abs(x) < 0.003) & (y < head.mouth_line(x) - 0.002) & (y > head.MOUTH_Y - 0.012)
    tip = np.nonzero(lower_lip)[0][np.argmax(z[lower_lip])]  # the front of the lower lip
    radius = float(np.hypot(*(rest[tip, 1:] - head.JAW_PIVOT[1:])))
    expected = 2 * radius * math.sin(math.radians(face.AA_JAW_DEG) / 2)
    moved = float(np.linalg.norm(aa[tip] - rest[tip]))
    assert moved == pytest.approx(expected, rel=0.1) and moved > 0.015
    assert _mouth_gap(rest, aa) > 0.015  # open: the cavity shows
    # the upper head does not move
    forehead = y > 1.56
    np.testing.assert_allclose(aa[forehead], rest[forehead], atol=1e-7)


def test_the_build_is_idempotent_and_rebuilds_when_the_builder_changes(
        built: tuple[Path, build.GuideReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets, report = built
    assert not report.skipped and report.glb == build.guide_paths(assets).glb
    manifest = json.loads(build.guide_paths(assets).manifest.read_text())
    assert manifest == {"version": build.FORMAT_VERSION, "fingerprint": build.guide_fingerprint()}
    before = report.glb.stat().st_mtime_ns
    again = build.ensure_guide(assets)
    assert again.skipped and report.glb.stat().st_mtime_ns == before
    assert not build.is_stale(assets)
    # a copy, then the builder "changes": stale, rebuilt (the slow geometry is stubbed here)
    copy = tmp_path / "assets"
    (copy / "guide").mkdir(parents=True)
    for f in (build.guide_paths(assets).glb, build.guide_paths(assets).manifest):
        (copy / "guide" / f.name).write_bytes(f.read_bytes())
    assert not build.is_stale(copy)
    monkeypatch.setattr(build, "guide_fingerprint", lambda: "changed")
    assert build.is_stale(copy)
    calls: list[int] = []

    def fake_glb() -> tuple[bytes, int, int]:
        calls.append(1)
        return b"glTF-new", 1, 3

    monkeypatch.setattr(build, "guide_glb", fake_glb)
    rebuilt = build.ensure_guide(copy)
    assert calls == [1] and not rebuilt.skipped and rebuilt.glb.read_bytes() == b"glTF-new"
    assert json.loads(build.guide_paths(copy).manifest.read_text())["fingerprint"] == "changed"
    assert build.ensure_guide(copy).skipped and calls == [1]


def test_a_build_cut_short_leaves_the_old_files_and_the_guide_stale(
        built: tuple[Path, build.GuideReport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "assets"
    (copy / "guide").mkdir(parents=True)
    src = build.guide_paths(built[0])
    for f in (src.glb, src.manifest):
        (copy / "guide" / f.name).write_bytes(f.read_bytes())
    old = {p.name: p.read_bytes() for p in (copy / "guide").iterdir()}
    monkeypatch.setattr(build, "guide_fingerprint", lambda: "changed")

    def broken() -> Any:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(build, "guide_glb", broken)
    with pytest.raises(RuntimeError):
        build.ensure_guide(copy)
    assert {p.name: p.read_bytes() for p in (copy / "guide").iterdir()} == old  # nothing half-written, no temp files
    assert build.is_stale(copy)
