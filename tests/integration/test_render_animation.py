"""Animated models in the panda3d renderer: a skinned cylinder and a morph cube read by the real glTF reader,
drawn offscreen in different poses (silhouettes compared as properties, not pixels)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.render.errors import RequestInvalid
from render_node.render.types import ModelPose, RenderRequest, TurntableView
from tests.render_models import gold_ring
from tests.rig_models import bending_cylinder, morph_cube

pytestmark = pytest.mark.gl

SIZE = (240, 240)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from render_node.render.engine import PandaRenderer
    from render_node.render.environment import build_environments

    env = tmp_path_factory.mktemp("env")
    build_environments(env, face_size_px=64)
    r = PandaRenderer(env)
    yield r
    r.close()


@pytest.fixture(scope="module")
def cylinder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bending_cylinder(tmp_path_factory.mktemp("rig") / "cylinder.glb")


def _silhouette(renderer: object, model: Path, pose: ModelPose | None, distance: float = 1.0) -> npt.NDArray[Any]:
    """Where the model covers a frame framed on its rest pose (`distance` > 1 leaves room to grow)."""
    img = renderer.render(RenderRequest(model, TurntableView(0, 0, distance), SIZE, "transparent", shadow=False,  # type: ignore[attr-defined]
                                        pose=pose))
    mask: npt.NDArray[Any] = img[..., 3] > 128
    return mask


def _iou(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_a_bent_cylinder_has_another_silhouette_than_the_straight_one(renderer: object, cylinder: Path) -> None:
    straight = _silhouette(renderer, cylinder, None)
    bent = _silhouette(renderer, cylinder, ModelPose("bend", 1.0))
    assert straight.mean() > 0.02 and bent.mean() > 0.02
    assert _iou(straight, bent) < 0.7
    # the camera looks at the front (+Z), +X to the right: bending about +Z sends the top to the left
    cols = np.nonzero(bent.any(axis=0))[0]
    straight_cols = np.nonzero(straight.any(axis=0))[0]
    assert cols.min() < straight_cols.min() - 20 and abs(int(cols.max()) - int(straight_cols.max())) <= 2
    rows_bent, rows_straight = np.nonzero(bent.any(axis=1))[0], np.nonzero(straight.any(axis=1))[0]
    assert rows_bent.min() > rows_straight.min() + 10  # lower: the top half now lies sideways


def test_the_rest_pose_comes_back_and_animation_time_zero_is_the_rest_pose(renderer: object, cylinder: Path) -> None:
    first = _silhouette(renderer, cylinder, None)
    _silhouette(renderer, cylinder, ModelPose("wave", 0.7))
    assert np.array_equal(_silhouette(renderer, cylinder, None), first)
    assert np.array_equal(_silhouette(renderer, cylinder, ModelPose("bend", 0.0)), first)


def test_an_unchanged_pose_is_not_computed_again(renderer: object, cylinder: Path) -> None:
    from render_node.render import posing

    _silhouette(renderer, cylinder, ModelPose("bend", 0.25))
    poser = posing.poser_of(renderer.load_model(cylinder))  # type: ignore[attr-defined]
    assert poser is not None and poser.animations == {"bend": 1.0, "wave": 0.5}
    calls = poser.deform_calls
    _silhouette(renderer, cylinder, ModelPose("bend", 0.25))
    assert poser.deform_calls == calls


def test_morph_weights_by_name_change_the_drawn_cube(renderer: object, tmp_path: Path) -> None:
    cube = morph_cube(tmp_path / "cube.glb", weights=(0.0, 0.0))
    plain = _silhouette(renderer, cube, None, 4.0)
    wide = _silhouette(renderer, cube, ModelPose(morph=(("wide", 1.0),)), 4.0)
    assert wide.sum() > plain.sum() * 2  # 3 m wide instead of 1 m
    grown = _silhouette(renderer, cube, ModelPose("grow", 2.0), 4.0)
    assert grown.sum() > wide.sum()


def test_an_animated_node_without_a_skin_moves_what_it_draws_and_comes_back(renderer: object, tmp_path: Path) -> None:
    cube = morph_cube(tmp_path / "cube.glb", weights=(0.0, 0.0))
    rest = _silhouette(renderer, cube, None, 4.0)
    slid = _silhouette(renderer, cube, ModelPose("slide", 1.0), 4.0)
    shift = np.nonzero(slid.any(axis=0))[0].mean() - np.nonzero(rest.any(axis=0))[0].mean()
    assert shift > 15  # 2 m to the right (+X faces right from the front)
    assert abs(int(slid.sum()) - int(rest.sum())) < 0.3 * rest.sum()  # the same cube (perspective shows a side)
    assert np.array_equal(_silhouette(renderer, cube, ModelPose("grow", 0.0), 4.0), rest)


def test_an_unknown_animation_is_a_bad_request(renderer: object, cylinder: Path) -> None:
    with pytest.raises(RequestInvalid, match="no animation called 'dance'"):
        _silhouette(renderer, cylinder, ModelPose("dance", 1.0))
    with pytest.raises(RequestInvalid, match="finite"):
        _silhouette(renderer, cylinder, ModelPose("bend", float("nan")))


def test_a_static_product_draws_the_same_before_and_after_an_animated_one(renderer: object, cylinder: Path,
                                                                         tmp_path: Path) -> None:
    ring = gold_ring(tmp_path / "ring.glb", triangles=4000)
    request = RenderRequest(ring, TurntableView(30, 15), (200, 150), "white", pose=ModelPose("bend", 1.0))
    before = renderer.render(request)  # type: ignore[attr-defined]
    _silhouette(renderer, cylinder, ModelPose("bend", 0.5))
    after = renderer.render(request)  # type: ignore[attr-defined]
    assert np.array_equal(before, after)


def test_an_animated_child_of_a_mesh_node_is_found_in_the_built_tree(tmp_path: Path) -> None:
    from render_node.render import posing
    from render_node.render.gltf import read_gltf
    from render_node.render.scene import SceneBuilder
    from render_node.render.shaders import ShaderCache
    from tests.render_models import write_glb
    from tests.rig_models import CUBE_CORNERS, CUBE_TRIANGLES, GlbBuffer

    buf = GlbBuffer()
    i_idx, i_pos = buf.add(CUBE_TRIANGLES, "SCALAR", 5123), buf.vec3(CUBE_CORNERS)
    i_t = buf.add(np.array([0.0, 1.0], np.float32), "SCALAR", 5126, min=[0.0], max=[1.0])
    i_v = buf.add(np.array([[0, 2, 0], [0, 3, 0]], np.float32), "VEC3", 5126)
    doc = buf.doc(scene=0, scenes=[{"nodes": [0]}],
                  nodes=[{"name": "base", "mesh": 0, "children": [1, 2]}, {"name": "still", "mesh": 0,
                                                                            "translation": [2, 0, 0]},
                         {"name": "lid", "mesh": 0, "translation": [0, 2, 0]}],
                  meshes=[{"primitives": [{"attributes": {"POSITION": i_pos}, "indices": i_idx}]}],
                  animations=[{"name": "lift", "samplers": [{"input": i_t, "output": i_v}],
                               "channels": [{"sampler": 0, "target": {"node": 2, "path": "translation"}}]}])
    model = SceneBuilder(ShaderCache()).build(posing.rest_posed(read_gltf(write_glb(tmp_path / "box.glb", doc,
                                                                                      buf.data))))
    poser = posing.attach(model)
    assert poser is not None
    lid = model.root.find("**/lid")
    still = model.root.find("**/still")
    poser.pose(0.5, "lift")
    assert tuple(round(v, 6) for v in lid.get_pos()) == (0.0, 2.5, 0.0)
    assert tuple(still.get_pos()) == (2.0, 0.0, 0.0)
    poser.pose()  # the rest pose puts it back
    assert tuple(lid.get_pos()) == (0.0, 2.0, 0.0)
