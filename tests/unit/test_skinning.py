"""Skins: joint matrices from the node tree and linear blend skinning, checked against positions worked out by
hand; the glTF reader's skin rules, refused with the field named."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.gltf import read_model
from render_node.render.errors import ModelInvalid
from render_node.render.skinning import Skin, joint_matrices, skin_vertices
from tests.rig_models import bending_cylinder, cylinder_vertices

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gltf"
H = math.sqrt(0.5)


def _translate(x: float, y: float, z: float) -> npt.NDArray[Any]:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def _rot_z(deg: float) -> npt.NDArray[Any]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    return m


def _bend_skin() -> tuple[Skin, dict[int, npt.NDArray[Any]]]:
    """Joint 0 at the origin, joint 1 at (0, 1, 0) turned 90 degrees about Z."""
    skin = Skin(joints=(0, 1), inverse_bind=np.stack([np.eye(4), _translate(0, -1, 0)]))
    return skin, {0: np.eye(4), 1: _translate(0, 1, 0) @ _rot_z(90)}


def test_a_vertex_half_on_a_joint_turned_90_degrees_lands_halfway_between_the_two_joints_positions() -> None:
    skin, world = _bend_skin()
    mats = joint_matrices(skin, world, np.eye(4))
    pos = np.array([[0, 2, 0], [0, 2, 0], [0.5, 1, 0]], np.float32)
    nrm = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0]], np.float32)
    joints = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]], np.uint16)
    weights = np.array([[0.5, 0.5, 0, 0], [1, 0, 0, 0], [0.5, 0.5, 0, 0]], np.float32)
    out, out_n, _ = skin_vertices(pos, nrm, None, joints, weights, mats)
    # joint 0 leaves (0, 2, 0); joint 1 turns it about (0, 1, 0) to (-1, 1, 0): the blend is halfway
    np.testing.assert_allclose(out, np.array([[-0.5, 1.5, 0], [-1, 1, 0], [0.25, 1.25, 0]]), atol=1e-6)
    assert out_n is not None
    np.testing.assert_allclose(out_n, np.array([[H, H, 0], [0, 1, 0], [H, H, 0]]), atol=1e-6)


def test_the_mesh_nodes_own_transform_does_not_move_a_skinned_mesh() -> None:
    skin, world = _bend_skin()
    mesh_world = _translate(5, 0, 0)
    mats = joint_matrices(skin, world, mesh_world)
    pos = np.array([[0, 2, 0]], np.float32)
    out, _, _ = skin_vertices(pos, None, None, np.array([[1, 0, 0, 0]], np.uint16),
                              np.array([[1, 0, 0, 0]], np.float32), mats)
    drawn = out[0] + mesh_world[:3, 3]  # the renderer draws it under the mesh node
    np.testing.assert_allclose(drawn, [-1, 1, 0], atol=1e-6)


def test_normals_follow_the_inverse_transpose_under_non_uniform_joint_scale() -> None:
    scale = np.diag([2.0, 1.0, 1.0, 1.0])
    skin = Skin(joints=(0,), inverse_bind=np.eye(4)[None])
    mats = joint_matrices(skin, {0: scale}, np.eye(4))
    nrm = np.array([[H, H, 0]], np.float32)
    tan = np.array([[1, 0, 0, -1]], np.float32)
    pos, out_n, out_t = skin_vertices(np.array([[1, 1, 0]], np.float32), nrm, tan, np.zeros((1, 4), np.uint16),
                                      np.array([[1, 0, 0, 0]], np.float32), mats)
    np.testing.assert_allclose(pos, [[2, 1, 0]], atol=1e-6)
    assert out_n is not None and out_t is not None
    np.testing.assert_allclose(out_n, [[0.5 / math.hypot(0.5, 1), 1 / math.hypot(0.5, 1), 0]], atol=1e-6)
    np.testing.assert_allclose(out_t, [[1, 0, 0, -1]], atol=1e-6)  # handedness kept


def test_khronos_simple_skin_bends_by_its_known_joint_angle() -> None:
    rig = read_model(FIXTURES / "SimpleSkin.gltf").rig
    assert rig is not None and len(rig.animations) == 1 and rig.animations[0].duration_s == 5.5
    rest = rig.deform(0, 0.0)[0].positions
    bent = rig.deform(0, 1.0)[0].positions  # the second joint at 90 degrees about Z (key 2: 0.707, 0.707)
    # The file has no normals: rows are its triangles' corners. Top corners (weight 1 on the turned joint at
    # y = 1): (0.5, 2) -> (-1, 1.5) and (-0.5, 2) -> (-1, 0.5); the middle row (0.5/0.5) goes half way.
    moved = {tuple(np.round(r, 4)): tuple(np.round(b, 3)) for r, b in zip(rest, bent, strict=True)}
    assert moved[(0.5, 2.0, 0.0)] == (-1.0, 1.5, 0.0)
    assert moved[(-0.5, 2.0, 0.0)] == (-1.0, 0.5, 0.0)
    assert moved[(0.5, 1.0, 0.0)] == (0.25, 1.25, 0.0)
    assert moved[(-0.5, 0.0, 0.0)] == (-0.5, 0.0, 0.0)
    np.testing.assert_allclose(rig.deform(0, 3.0)[0].positions, rest, atol=1e-6)  # back at rest


def test_bending_cylinder_vertices_match_the_joint_angle_exactly(tmp_path: Path) -> None:
    rig = read_model(bending_cylinder(tmp_path / "c.glb", mesh_translation=(3.0, 0.0, 0.0))).rig
    assert rig is not None
    pos, nrm, _ = cylinder_vertices()
    bent = rig.deform(rig.animation_index("bend"), 1.0)[0]
    # skinned vertices are in the mesh node's space (the renderer draws them under it): add its (3, 0, 0) back
    bent = type(bent)(bent.mesh, bent.primitive, bent.positions + np.array([3, 0, 0], np.float32), bent.normals, None)
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    above = y > 1.01
    # rotating (x, y - 1, z) by 90 degrees about Z and adding the pivot back: (1 - y, 1 + x, z)
    np.testing.assert_allclose(bent.positions[above], np.stack([1 - y, 1 + x, z], 1)[above], atol=1e-6)
    below = y < 0.99
    np.testing.assert_allclose(bent.positions[below], pos[below], atol=1e-6)
    ring = np.abs(y - 1) < 1e-6  # half and half: the mean of both
    np.testing.assert_allclose(bent.positions[ring], (pos[ring] + np.stack([1 - y, 1 + x, z], 1)[ring]) / 2,
                               atol=1e-6)
    assert bent.normals is not None
    np.testing.assert_allclose(bent.normals[above], np.stack([-nrm[:, 1], nrm[:, 0], nrm[:, 2]], 1)[above], atol=1e-6)
    half = rig.deform(rig.animation_index("bend"), 0.5)[0].positions + np.array([3, 0, 0], np.float32)  # 45 degrees (slerp half way)
    top = np.argmax(y)
    c = math.cos(math.radians(45))
    np.testing.assert_allclose(half[top], [c * x[top] - c * 1.0, 1 + c * x[top] + c * 1.0, z[top]], atol=1e-5)


def _skinned_doc(tmp_path: Path, change: Any) -> Path:
    src = json.loads((FIXTURES / "SimpleSkin.gltf").read_text())
    change(src)
    out = tmp_path / "skin.gltf"
    out.write_text(json.dumps(src))
    return out


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["skins"][0].update(joints=[1, 9]), "skin.gltf: skins[0].joints[1]: nodes[9] does not exist (the file has 3)"),
    (lambda d: d["skins"][0].update(joints=[1, 2, 0]),
     "skin.gltf: skins[0].inverseBindMatrices: 2 matrices for 3 joints"),
    (lambda d: d["skins"][0].update(joints=[1]),
     "skin.gltf: skins[0].inverseBindMatrices: 2 matrices for 1 joints"),
    (lambda d: d["meshes"][0]["primitives"][0]["attributes"].pop("WEIGHTS_0"),
     "skin.gltf: meshes[0].primitives[0].attributes: JOINTS_0 and WEIGHTS_0 come in pairs"),
    (lambda d: d["accessors"][3].update(count=9),
     "skin.gltf: meshes[0].primitives[0].attributes.WEIGHTS_0: 9 values but POSITION has 10"),
    (lambda d: d["nodes"][0].update(skin=3), "skin.gltf: nodes[0].skin: skins[3] does not exist (the file has 1)"),
])
def test_broken_skins_are_refused_naming_the_field(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ModelInvalid) as err:
        read_model(_skinned_doc(tmp_path, change))
    assert str(err.value) == message


def test_joint_indices_past_the_skin_are_refused(tmp_path: Path) -> None:
    def one_joint(d: dict[str, Any]) -> None:
        d["skins"][0]["joints"] = [1]
        d["skins"][0].pop("inverseBindMatrices")

    with pytest.raises(ModelInvalid) as err:
        read_model(_skinned_doc(tmp_path, one_joint))
    assert str(err.value) == "skin.gltf: meshes[0].primitives[0].attributes.JOINTS_0: joint 1 is out of range (the skin has 1)"


def test_weights_not_summing_to_one_are_normalised_and_a_fifth_influence_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import render_node.gltf.rigging as rigging

    arrays = {
        "J0": np.array([[0, 1, 2, 3]], np.uint16), "W0": np.array([[0.4, 0.4, 0.4, 0.05]], np.float32),
        "J1": np.array([[4, 0, 0, 0]], np.uint16), "W1": np.array([[0.35, 0, 0, 0]], np.float32),
    }
    monkeypatch.setattr(rigging, "read_accessor", lambda doc, ref, where: arrays[ref])
    attrs = {"JOINTS_0": "J0", "WEIGHTS_0": "W0", "JOINTS_1": "J1", "WEIGHTS_1": "W1"}
    j, w = rigging._influences(None, attrs, 1, 5, "meshes[0].primitives[0]", None)  # type: ignore[arg-type]
    assert j.tolist() == [[0, 1, 2, 4]]  # the lightest (joint 3, 0.05) goes
    np.testing.assert_allclose(w, [[0.4 / 1.55, 0.4 / 1.55, 0.4 / 1.55, 0.35 / 1.55]], rtol=1e-6)


def test_an_imported_skinned_model_keeps_its_skin_and_animation() -> None:
    from render_node.assets.gltf_import import import_model
    from render_node.gltf import read_model_bytes

    result = import_model(FIXTURES / "SimpleSkin.gltf")
    rig = read_model_bytes(result.glb, "skin.glb").rig
    assert rig is not None and [a.duration_s for a in rig.animations] == [5.5]
    top = rig.deform(0, 1.0)[0].positions
    # the import puts a new root above everything; the skin follows its joints under it, as before
    original = read_model(FIXTURES / "SimpleSkin.gltf").rig
    assert original is not None
    world = rig.world_matrices({})
    mesh_node = next(n for n in rig.node_skin)
    drawn = top @ world[mesh_node][:3, :3].T + world[mesh_node][:3, 3]
    expected = original.deform(0, 1.0)[0].positions
    root = next(r for r in rig.roots)
    np.testing.assert_allclose(drawn, expected @ world[root][:3, :3].T + world[root][:3, 3], atol=1e-5)


def test_the_validators_bounds_are_the_rest_pose_not_the_mesh_nodes_transform(tmp_path: Path) -> None:
    from render_node.assets.gltf_import import validate_file

    report = validate_file(bending_cylinder(tmp_path / "c.glb", mesh_translation=(3.0, 0.0, 0.0)))
    np.testing.assert_allclose(report.bounds_min_m, (-0.25, 0.0, -0.25), atol=1e-6)
    np.testing.assert_allclose(report.bounds_max_m, (0.25, 2.0, 0.25), atol=1e-6)
