"""Try-on rendered for real (panda3d offscreen): a necklace on a real photo (scikit-image's astronaut), a ring
on a finger with the back of the band hidden by the finger, earrings at the lobes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from render_node.ar.geometry import model_shape
from render_node.tryon import landmarks as L
from render_node.tryon.landmarks import LandmarkModels
from render_node.tryon.pipeline import detect_fit, finish_tryon, plan_tryon, render_job
from tests import ar_models
from tests.unit.test_tryon_fitting import K, right_hand_back_to_camera

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from render_node.render.engine import PandaRenderer

    r = PandaRenderer(ar_models.env_dir(tmp_path_factory.mktemp("env")))
    yield r
    r.close()


@pytest.fixture(scope="module")
def models() -> Iterator[LandmarkModels]:
    m = LandmarkModels(static=True)
    yield m
    m.close()


def test_a_person_comes_back_wearing_the_necklace_below_the_chin_at_real_size(renderer, models, tmp_path: Path
                                                                              ) -> None:
    model = ar_models.necklace(tmp_path / "necklace.glb", 130.0, 150.0)
    shape = model_shape(model)
    photo = skimage.data.astronaut()
    fit = detect_fit(photo, "neck", shape, models, length_mm=450)
    job = plan_tryon(photo, fit, shape, model)
    composite = finish_tryon(photo, job, render_job(renderer, job))
    changed = np.abs(composite.astype(int) - photo.astype(int)).sum(axis=2) > 40
    ys, xs = np.nonzero(changed)
    face = models.face(photo)
    assert face is not None
    chin = face.points_px[L.CHIN, :2]
    assert ys.min() > chin[1]  # nothing drawn over the face
    assert abs(float(np.median(xs)) - chin[0]) < 15  # centred under the chin
    width_mm = (xs.max() - xs.min()) / fit.px_per_mm
    height_mm = (ys.max() - ys.min()) / fit.px_per_mm
    assert 100 < width_mm < 150  # the model is 130 x 150 mm
    assert 110 < height_mm < 165
    gold = composite[changed]
    assert float(np.mean(gold[:, 0].astype(int) - gold[:, 2].astype(int))) > 30  # gold-coloured


def test_a_ring_sits_on_the_finger_with_its_back_hidden_by_the_finger(renderer, tmp_path: Path) -> None:
    model = ar_models.ring(tmp_path / "ring.glb", 17.2, 2.2, 2.5)
    shape = model_shape(model)
    hand = right_hand_back_to_camera(depth_m=0.35)
    frame = np.full((720, 1280, 3), (170, 130, 110), np.uint8)
    for a, b in ((13, 16), (0, 13), (9, 12), (5, 8), (17, 20)):
        cv2.line(frame, tuple(int(v) for v in hand.points_px[a]), tuple(int(v) for v in hand.points_px[b]),
                 (225, 180, 155), int(0.017 * K.fx / 0.35))
    fit = detect_fit(frame, "finger", shape, LandmarkModels(), hand=hand)
    job = plan_tryon(frame, fit, shape, model)
    assert job.pieces[0].front is not None  # the front half is rendered for the occluder
    renders = render_job(renderer, job)
    overlay = finish_tryon(frame, job, renders, output="overlay")
    alpha = overlay[..., 3] > 128
    ys, xs = np.nonzero(alpha)
    centre = np.array([xs.mean(), ys.mean()])
    mcp, pip = hand.points_px[13], hand.points_px[14]
    d = (pip - mcp) / np.linalg.norm(pip - mcp)
    off = centre - mcp
    assert abs(float(off @ np.array([-d[1], d[0]]))) < 3.0  # centred across the finger
    assert 0.3 < float(off @ d) / np.linalg.norm(pip - mcp) < 0.7  # between the knuckles
    full_pixels = int((job.pieces[0].full.pixels(renders[0])[..., 3] > 128).sum())
    assert alpha.sum() < 0.8 * full_pixels  # the band's back is hidden behind the finger
    assert alpha.sum() > 0.3 * full_pixels
    width_px = xs.max() - xs.min()
    assert width_px / fit.px_per_mm == pytest.approx(17.2 + 2 * 2.2, rel=0.15)  # outer diameter of the band


def test_earrings_hang_at_both_lobes_one_each(renderer, models, tmp_path: Path) -> None:
    model = ar_models.earrings(tmp_path / "earrings.glb")
    shape = model_shape(model)
    photo = skimage.data.astronaut()
    fit = detect_fit(photo, "ear", shape, models)
    job = plan_tryon(photo, fit, shape, model)
    overlay = finish_tryon(photo, job, render_job(renderer, job), output="overlay")
    n, labels = cv2.connectedComponents((overlay[..., 3] > 100).astype(np.uint8))
    assert n - 1 == 2  # one stud per ear, not the pair twice
    face = models.face(photo)
    assert face is not None
    for i in (1, 2):
        ys, xs = np.nonzero(labels == i)
        assert face.points_px[L.NASION, 1] < ys.mean() < face.points_px[L.CHIN, 1]
