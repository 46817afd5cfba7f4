"""Morph targets: base + sum of weight x delta, for positions and normals, through the real glTF reader; default
weights from the mesh, the node, the animation and by target name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.gltf import read_model
from render_node.render.errors import ModelInvalid
from render_node.render.morph import MorphTarget, morph
from tests.rig_models import morph_cube

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gltf"


def _corners(positions: npt.NDArray[Any]) -> set[tuple[float, ...]]:
    return {tuple(float(v) for v in np.round(p, 5)) for p in positions}


def test_morph_cube_at_weights_quarter_and_half_has_the_corners_worked_out_by_hand(tmp_path: Path) -> None:
    rig = read_model(morph_cube(tmp_path / "cube.glb", weights=(0.25, 0.5))).rig
    assert rig is not None
    d = rig.deform()[0]  # rest pose: the mesh's weights (0.25, 0.5)
    # `up` lifts y > 0 by 0.25 x 1 m; `wide` pushes x > 0 out by 0.5 x 2 m
    assert _corners(d.positions) == {
        (-0.5, -0.5, -0.5), (-0.5, -0.5, 0.5), (-0.5, 0.75, -0.5), (-0.5, 0.75, 0.5),
        (1.5, -0.5, -0.5), (1.5, -0.5, 0.5), (1.5, 0.75, -0.5), (1.5, 0.75, 0.5),
    }
    assert len(d.positions) == 36  # no normals in the file: unwelded into flat-shaded triangles
    assert d.normals is not None
    top = np.isclose(d.positions[:, 1], 0.75).reshape(-1, 3).all(axis=1)
    np.testing.assert_allclose(d.normals.reshape(-1, 3, 3)[top][:, 0], np.tile([0, 1, 0], (top.sum(), 1)), atol=1e-6)


def test_weights_by_target_name_override_the_defaults(tmp_path: Path) -> None:
    rig = read_model(morph_cube(tmp_path / "cube.glb", weights=(0.25, 0.5))).rig
    assert rig is not None and rig.target_names == [("up", "wide")]
    d = rig.deform(morph_by_name=(("wide", 0.0), ("unknown", 1.0)))[0]
    assert max(p[0] for p in _corners(d.positions)) == 0.5 and max(p[1] for p in _corners(d.positions)) == 0.75


def test_positions_and_normals_blend_with_their_weights() -> None:
    base = np.array([[0, 0, 0]], np.float32)
    n = np.array([[0, 0, 1]], np.float32)
    t1 = MorphTarget(positions=np.array([[1, 0, 0]], np.float32), normals=np.array([[1, 0, -1]], np.float32))
    t2 = MorphTarget(positions=np.array([[0, 2, 0]], np.float32))
    pos, nrm, tan = morph(base, n, None, (t1, t2), (0.5, 0.25))
    np.testing.assert_allclose(pos, [[0.5, 0.5, 0]])
    assert nrm is not None and tan is None
    np.testing.assert_allclose(nrm, [[0.5 / np.hypot(0.5, 0.5), 0, 0.5 / np.hypot(0.5, 0.5)]], atol=1e-6)
    with pytest.raises(ValueError, match="1 morph weights for 2 targets"):
        morph(base, n, None, (t1, t2), (0.5,))


def test_khronos_simple_morph_follows_its_weights_animation() -> None:
    rig = read_model(FIXTURES / "SimpleMorph.gltf").rig
    assert rig is not None
    apex = {t: rig.deform(0, t)[0].positions[2].tolist() for t in (0.0, 1.0, 1.5, 3.0, 9.0)}
    # base apex (0.5, 0.5); target 0 moves it by (-1, 1), target 1 by (1, 1); keys (0,0) (0,1) (1,1) (1,0) (0,0)
    assert apex == {0.0: [0.5, 0.5, 0.0], 1.0: [1.5, 1.5, 0.0], 1.5: [1.0, 2.0, 0.0], 3.0: [-0.5, 1.5, 0.0],
                    9.0: [0.5, 0.5, 0.0]}
    assert rig.deform()[0].positions[2].tolist() == [0.5, 1.5, 0.0]  # the mesh's weights (0.5, 0.5)


def _doc(tmp_path: Path, change: Any) -> Path:
    src = json.loads((FIXTURES / "SimpleMorph.gltf").read_text())
    change(src)
    out = tmp_path / "m.gltf"
    out.write_text(json.dumps(src))
    return out


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["meshes"][0].update(weights=[0.5]), "m.gltf: meshes[0].weights: 1 weights for 2 morph targets"),
    (lambda d: d["nodes"][0].update(weights=[1, 2, 3]), "m.gltf: nodes[0].weights: 3 weights for 2 morph targets"),
    (lambda d: d["accessors"][2].update(count=2),
     "m.gltf: meshes[0].primitives[0].targets[0].POSITION: 2 values but POSITION has 3"),
    (lambda d: d["meshes"][0]["primitives"].append(
        {"attributes": {"POSITION": 1}, "indices": 0, "targets": [{"POSITION": 2}]}),
     "m.gltf: meshes[0].primitives[1].targets: 1 targets, but primitives[0] has 2"),
])
def test_broken_morph_targets_are_refused_naming_the_field(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ModelInvalid) as err:
        read_model(_doc(tmp_path, change))
    assert str(err.value) == message


def test_a_model_without_skins_targets_or_animations_has_no_rig(tmp_path: Path) -> None:
    from tests.render_models import box_with_cameras

    assert read_model(box_with_cameras(tmp_path / "box.glb", [])).rig is None
