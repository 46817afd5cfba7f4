"""`showroom views warm` pre-renders view sets with the real renderer; the node then serves them from disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from render_node.cli import main

pytestmark = pytest.mark.gl


def test_views_warm_renders_a_set_that_the_manifest_lists(tmp_path: Path, project_root: Path,
                                                          gltf_samples: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    sample = gltf_samples / "MetalRoughSpheresNoTextures" / "MetalRoughSpheresNoTextures.glb"
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True)
    shutil.copy(project_root / "assets" / "catalog.toml", assets / "catalog.toml")
    from showroom.catalog import load_catalog

    catalog = load_catalog((assets / "catalog.toml").read_text(encoding="utf-8"))
    product = catalog.products[0]
    shutil.copy(sample, assets / "models" / product.model)
    env = project_root / "assets" / "env"
    if env.is_dir() and any(env.iterdir()):
        (assets / "env").symlink_to(env)
    data = tmp_path / "data"
    code = main(["views", "warm", "--assets-dir", str(assets), "--data-dir", str(data), "--workers", "1",
                 "--product", product.id, "--size", "64x48"])
    assert code == 0
    assert "1 view sets (108 frames)" in capsys.readouterr().out
    manifests = list((data / "views" / "sets").glob("*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["product"] == product.id and len(manifest["frames"]) == 108
    assert all((data / "views" / f["url"].rsplit("/", 1)[1]).is_file() for f in manifest["frames"])
