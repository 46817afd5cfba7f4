"""The bank's own guide character in place of the default (render_node/guide/guide_import.py): checked, put in
place, kept by asset builds, and `showroom assets guide --force` puts the default back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from render_node.commands import assets as assets_command
from render_node.guide import guide_import as gi
from render_node.guide.character import build
from tests.portrait_models import CLIP_SECONDS, guide_stand_in


def test_a_rigged_character_with_the_visemes_and_clips_replaces_the_guide_and_builds_keep_it(
        tmp_path: Path) -> None:
    source = guide_stand_in(tmp_path / "our_host.glb")
    assets = tmp_path / "assets"
    done = gi.import_guide(assets, source)
    files = build.guide_paths(assets)
    assert files.glb.read_bytes() == source.read_bytes()
    manifest = json.loads(files.manifest.read_text())
    assert manifest["imported"] == {"source": "our_host.glb", "sha256": done.sha256}
    assert set(gi.CLIPS_NEEDED) <= set(done.clips) and done.triangles > 0
    assert build.imported_from(assets) == "our_host.glb" and not build.is_stale(assets)
    # `showroom assets build` asks for a forced guide build: the bank's own is kept all the same
    report = build.ensure_guide(assets, force=True)
    assert report.skipped and report.imported == "our_host.glb"
    assert files.glb.read_bytes() == source.read_bytes()


def test_a_character_missing_what_the_node_uses_is_refused_with_every_reason(tmp_path: Path) -> None:
    no_walk = guide_stand_in(tmp_path / "no_walk.glb",
                             clip_seconds={k: v for k, v in CLIP_SECONDS.items() if k not in ("walk", "point")})
    with pytest.raises(gi.GuideInvalid, match="no animations called point, walk"):
        gi.check_character(no_walk)
    assets = tmp_path / "assets"
    with pytest.raises(gi.GuideInvalid):
        gi.import_guide(assets, no_walk)
    assert not build.guide_paths(assets).glb.exists(), "a refused file must not land"

    gltf = tmp_path / "host.gltf"
    gltf.write_text("{}")
    with pytest.raises(gi.GuideInvalid, match="one .glb file"):
        gi.check_character(gltf)
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF not really")
    with pytest.raises(gi.GuideInvalid, match="not a glTF model"):
        gi.check_character(broken)
    with pytest.raises(gi.GuideInvalid, match="cannot read"):
        gi.check_character(tmp_path / "absent.glb")


def test_the_command_says_what_is_wrong_and_force_puts_the_default_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    assets_command.register(parser.add_subparsers(dest="command"))
    assets = tmp_path / "assets"

    def run(*argv: str) -> int:
        args = parser.parse_args(["assets", "guide", "--assets-dir", str(assets), *argv])
        return int(args.func(args))

    bad = guide_stand_in(tmp_path / "bad.glb", clip_seconds={"idle": 1.0})
    assert run("--from", str(bad)) == 2
    assert "no animations called talk, welcome, point, walk" in capsys.readouterr().err

    good = guide_stand_in(tmp_path / "good.glb")
    assert run("--from", str(good)) == 0
    assert "the guide is now good.glb" in capsys.readouterr().out
    assert run("--from", str(good), "--force") == 2

    # --force builds the default over the bank's own (the builder is stood in for: it takes ~30 s)
    monkeypatch.setattr(build, "guide_glb", lambda: (b"glTF-default", 1, 3))
    assert run("--force") == 0
    assert build.guide_paths(assets).glb.read_bytes() == b"glTF-default"
    assert build.imported_from(assets) is None and not build.is_stale(assets)
