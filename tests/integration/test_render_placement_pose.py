"""A posed placement (the hall's guide) in the panda3d renderer: its pose shows, and it moves nothing else drawn
from the same file: another placement of the model and the model drawn as the main one keep their rest pose."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from render_node.hall.scene import yaw_matrix
from render_node.render.types import CameraPose, Intrinsics, ModelPose, Placement, PoseView, RenderRequest
from tests.portrait_models import MOUTH_CENTRE_M, guide_stand_in
from tests.render_models import gold_ring

pytestmark = pytest.mark.gl

SIZE = (240, 120)
LEFT_X, RIGHT_X = -0.16, 0.16
TALKING = ModelPose("idle", 0.0, (("viseme_aa", 1.0), ("viseme_oh", 0.5)))


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from render_node.render.engine import PandaRenderer
    from render_node.render.environment import build_environments

    env = tmp_path_factory.mktemp("env")
    build_environments(env, face_size_px=64)
    r = PandaRenderer(env)
    yield r
    r.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("models")
    return guide_stand_in(d / "guide.glb"), gold_ring(d / "ring.glb")


def _faces(renderer: Any, main: Path, guide: Path, left: ModelPose | None, right: ModelPose | None = None
           ) -> npt.NDArray[Any]:
    """Two guides side by side, seen face on at mouth height (the main model far behind the camera's view)."""
    view = PoseView(CameraPose((0.0, MOUTH_CENTRE_M[1], 0.75)), Intrinsics.from_fov(20.0, *SIZE))
    placements = tuple(Placement(guide, yaw_matrix((x, 0.0, 0.0), 0.0), (), "studio", pose)
                       for x, pose in ((LEFT_X, left), (RIGHT_X, right)))
    img: npt.NDArray[Any] = renderer.render(RenderRequest(main, view, SIZE, "white", shadow=False,
                                                          placements=placements))
    return img[..., :3].astype(np.int16)


CENTRE_PX = 24
"""Columns either side of the centre line left out of a half: each guide's torso reaches across it a little, so
the neighbour's pose (its breathing) shows there."""


def _half(img: npt.NDArray[Any], side: str) -> npt.NDArray[Any]:
    w = img.shape[1]
    return img[:, : w // 2 - CENTRE_PX] if side == "left" else img[:, w // 2 + CENTRE_PX:]


def test_a_posed_placement_opens_its_mouth_and_its_twin_stays_at_rest(renderer: Any, models: tuple[Path, Path]
                                                                       ) -> None:
    guide, ring = models
    rest = _faces(renderer, ring, guide, None)
    talking = _faces(renderer, ring, guide, TALKING)
    moved = np.abs(_half(talking, "left") - _half(rest, "left")).max(axis=2) > 30
    assert moved.sum() > 20, "the posed guide's mouth did not open"
    assert np.array_equal(_half(talking, "right"), _half(rest, "right")), "the unposed twin moved"
    # the pose changes every frame: the new one shows (the idle clip at t=0 with the mouth shut, not the rest
    # pose: the clip moves the body a little), the twin still rests
    idle = _faces(renderer, ring, guide, ModelPose("idle", 0.0))
    closed = _faces(renderer, ring, guide, ModelPose("idle", 0.0, (("viseme_PP", 0.0),)))
    assert np.abs(_half(closed, "left") - _half(idle, "left")).max() <= 2
    assert np.array_equal(_half(closed, "right"), _half(rest, "right"))


def test_two_guides_in_different_poses_each_show_their_own(renderer: Any, models: tuple[Path, Path]) -> None:
    guide, ring = models
    rest = _faces(renderer, ring, guide, None)
    both = _faces(renderer, ring, guide, TALKING, ModelPose("idle", 0.0, (("viseme_aa", 1.0),)))
    left = _faces(renderer, ring, guide, TALKING)
    assert np.abs(_half(both, "left") - _half(left, "left")).max() <= 2
    assert (np.abs(_half(both, "right") - _half(rest, "right")).max(axis=2) > 30).sum() > 20


def test_the_main_model_of_the_same_file_keeps_its_rest_pose_after_a_posed_placement(
        renderer: Any, models: tuple[Path, Path]) -> None:
    guide, ring = models
    view = PoseView(CameraPose((0.0, MOUTH_CENTRE_M[1], 0.5)), Intrinsics.from_fov(20.0, *SIZE))
    alone = renderer.render(RenderRequest(guide, view, SIZE, "white", shadow=False))
    _faces(renderer, ring, guide, TALKING)
    again = renderer.render(RenderRequest(guide, view, SIZE, "white", shadow=False))
    assert np.array_equal(alone, again)
    # and back: the placement without a pose is drawn at rest again
    rest_after = _faces(renderer, ring, guide, None)
    assert np.array_equal(rest_after, _faces(renderer, ring, guide, None))
    assert np.abs(_half(rest_after, "left") - _half(rest_after, "right")[:, ::-1]).mean() < 8
