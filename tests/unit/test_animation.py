"""Animation sampling as the glTF spec defines it: LINEAR (slerp for rotations), STEP, CUBICSPLINE (Hermite,
tangents scaled by the key spacing), clamping outside the keys; and the reader's animation rules."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from render_node.gltf import read_model
from render_node.render.animation import Animation, Channel, Sampler, slerp
from render_node.render.errors import ModelInvalid
from tests.rig_models import morph_cube

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gltf"
H = math.sqrt(0.5)


def _linear() -> Sampler:
    return Sampler(np.array([1.0, 3.0]), np.array([[0.0, 0.0, 0.0], [2.0, 4.0, -6.0]]), "LINEAR")


def test_linear_is_proportional_between_keys_and_clamped_outside() -> None:
    s = _linear()
    np.testing.assert_allclose(s.sample(2.0), [1, 2, -3])
    np.testing.assert_allclose(s.sample(2.5), [1.5, 3, -4.5])
    np.testing.assert_allclose(s.sample(0.0), [0, 0, 0])  # before the first key: the first value
    np.testing.assert_allclose(s.sample(10.0), [2, 4, -6])  # after the last key: the last value


def test_step_holds_the_previous_key_until_the_next() -> None:
    s = Sampler(np.array([0.0, 1.0, 2.0]), np.array([[1.0], [5.0], [9.0]]), "STEP")
    assert [float(s.sample(t)[0]) for t in (0.0, 0.5, 0.999, 1.0, 1.5, 2.0, 7.0)] == [1, 1, 1, 5, 5, 9, 9]


def test_rotations_slerp_along_the_shorter_arc() -> None:
    s = Sampler(np.array([0.0, 1.0]), np.array([[0, 0, 0, 1.0], [0, 0, H, H]]), "LINEAR")
    q = s.sample(0.5, rotation=True)
    np.testing.assert_allclose(q, [0, 0, math.sin(math.pi / 8), math.cos(math.pi / 8)], atol=1e-12)
    # -q is the same rotation: slerp must not go the long way round
    flipped = slerp(np.array([0, 0, 0, 1.0]), -np.array([0, 0, H, H]), 0.5)
    assert abs(abs(float(np.dot(flipped, q))) - 1) < 1e-12


def test_cubic_spline_between_keys_is_the_hermite_formula_with_tangents_scaled_by_the_key_spacing() -> None:
    # keys at 0 s and 2 s; per key (in-tangent, value, out-tangent)
    values = np.array([[9.0], [1.0], [3.0], [-2.0], [5.0], [9.0]])
    s = Sampler(np.array([0.0, 2.0]), values, "CUBICSPLINE")
    v0, b0, a1, v1, td = 1.0, 3.0, -2.0, 5.0, 2.0
    for t in (0.5, 1.0, 1.5):
        u = t / td
        hermite = ((2 * u**3 - 3 * u**2 + 1) * v0 + td * (u**3 - 2 * u**2 + u) * b0 + (-2 * u**3 + 3 * u**2) * v1
                   + td * (u**3 - u**2) * a1)
        assert float(s.sample(t)[0]) == pytest.approx(hermite, abs=1e-12)
    assert float(s.sample(1.0)[0]) == pytest.approx(0.5 * 1 + 2 * 0.125 * 3 + 0.5 * 5 + 2 * -0.125 * -2)
    assert float(s.sample(-1.0)[0]) == 1.0 and float(s.sample(2.0)[0]) == 5.0  # values, never tangents


def test_cubic_spline_rotation_comes_out_unit_length() -> None:
    values = np.array([[0, 0, 0, 0], [0, 0, 0, 1.0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, H, H], [0, 0, 0, 0]])
    q = Sampler(np.array([0.0, 1.0]), values, "CUBICSPLINE").sample(0.5, rotation=True)
    assert np.linalg.norm(q) == pytest.approx(1.0)


def test_pose_at_gives_each_targeted_node_its_properties() -> None:
    anim = Animation("a", (Channel(3, "translation", 0), Channel(3, "scale", 1)),
                     (_linear(), Sampler(np.array([0.0]), np.array([[2.0, 2.0, 2.0]]), "STEP")), 3.0)
    pose = anim.pose_at(2.0)
    assert list(pose) == [3]
    np.testing.assert_allclose(pose[3].translation, [1, 2, -3])  # type: ignore[arg-type]
    np.testing.assert_allclose(pose[3].scale, [2, 2, 2])  # type: ignore[arg-type]
    assert pose[3].rotation is None and pose[3].weights is None


def test_a_cubic_spline_weights_channel_read_from_a_file_is_sampled_per_target(tmp_path: Path) -> None:
    rig = read_model(morph_cube(tmp_path / "cube.glb")).rig
    assert rig is not None and rig.animations[0].name == "grow" and rig.animations[0].duration_s == 2.0
    poses = rig.animations[0].pose_at(1.0)
    # per target: v0 = 0, v1 = 1, out-tangent of key 0 = (1, 0), in-tangent of key 1 = 0, td = 2, s = 0.5
    np.testing.assert_allclose(poses[0].weights, [0.5 + 2 * 0.125 * 1, 0.5])  # type: ignore[arg-type]


def _doc(tmp_path: Path, change: Any) -> Path:
    src = json.loads((FIXTURES / "SimpleSkin.gltf").read_text())
    change(src)
    out = tmp_path / "a.gltf"
    out.write_text(json.dumps(src))
    return out


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["animations"][0]["samplers"][0].update(interpolation="SMOOTH"),
     "a.gltf: animations[0].samplers[0].interpolation: 'SMOOTH' is not LINEAR, STEP or CUBICSPLINE"),
    (lambda d: d["animations"][0]["samplers"][0].update(interpolation="CUBICSPLINE"),
     "a.gltf: animations[0].samplers[0].output: 12 values for 12 keys (36 expected for rotation, CUBICSPLINE)"),
    (lambda d: d["animations"][0]["channels"][0]["target"].update(path="translation"),
     "a.gltf: animations[0].samplers[0].output: has 4 components; translation needs 3"),
    (lambda d: d["animations"][0]["channels"][0]["target"].update(node=7),
     "a.gltf: animations[0].channels[0].target.node: nodes[7] does not exist (the file has 3)"),
    (lambda d: d["animations"][0]["channels"][0]["target"].update(path="weights"),
     "a.gltf: animations[0].channels[0].target: animates weights of nodes[2], which draws no morph targets"),
    (lambda d: d["nodes"][2].update(matrix=[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]),
     "a.gltf: animations[0].channels[0].target: animates rotation of nodes[2], which has a matrix (glTF: TRS only)"),
    (lambda d: d["animations"][0]["channels"][0].update(sampler=4),
     "a.gltf: animations[0].channels[0].sampler: must be an index into animations[0].samplers (it has 1)"),
])
def test_broken_animations_are_refused_naming_the_field(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ModelInvalid) as err:
        read_model(_doc(tmp_path, change))
    assert str(err.value) == message


def test_key_times_must_increase(tmp_path: Path) -> None:
    import base64

    def reversed_times(d: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(d["buffers"][3]["uri"].split(",")[1]))
        times = np.frombuffer(bytes(raw[:48]), np.float32)[::-1].copy()
        raw[:48] = times.tobytes()
        d["buffers"][3]["uri"] = "data:application/gltf-buffer;base64," + base64.b64encode(bytes(raw)).decode()

    with pytest.raises(ModelInvalid) as err:
        read_model(_doc(tmp_path, reversed_times))
    assert str(err.value) == "a.gltf: animations[0].samplers[0].input: key times must be strictly increasing"
