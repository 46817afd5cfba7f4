"""`showroom assets validate|import|build` and `showroom catalog list` on real glTF samples and broken files."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from render_node.assets.gltf_import import validate_file
from render_node.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = (
    "MetalRoughSpheresNoTextures",
    "ClearCoatCarPaint",
    "SunglassesKhronos",
    "AnisotropyStrengthTest",
    "TransmissionRoughnessTest",
    "ClearCoatTest",
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _triangle_gltf(**prim_extra: object) -> dict[str, object]:
    """A one-triangle glTF with an embedded buffer: positions (3 x VEC3 float) + indices (3 x u16)."""
    import base64

    pos = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    idx = struct.pack("<3H", 0, 1, 2) + b"\0\0"
    data = pos + idx
    prim: dict[str, object] = {"attributes": {"POSITION": 0}, "indices": 1, **prim_extra}
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [prim]}],
        "buffers": [
            {
                "byteLength": len(data),
                "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode(),
            }
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6},
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            },
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
    }


def _write(tmp_path: Path, name: str, doc: dict[str, object] | str) -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


@pytest.mark.parametrize("sample", SAMPLES)
def test_validate_accepts_every_khronos_sample(
    gltf_samples: Path, capsys: pytest.CaptureFixture[str], sample: str
) -> None:
    code, out, _ = _run(capsys, "assets", "validate", str(gltf_samples / sample / f"{sample}.glb"))
    assert code == 0
    assert "valid glTF 2.0 (GLB)" in out and "triangles" in out


def test_validate_json_reports_bounds_and_extensions(
    gltf_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "assets",
        "validate",
        "--json",
        str(gltf_samples / "ClearCoatCarPaint" / "ClearCoatCarPaint.glb"),
    )
    assert code == 0
    report = json.loads(out)
    assert "KHR_materials_clearcoat" in report["extensions_used"]
    assert report["size_m"][0] == pytest.approx(1.0, abs=0.01)
    assert report["triangles"] > 1000


def test_a_small_handmade_gltf_is_valid(tmp_path: Path) -> None:
    report = validate_file(_write(tmp_path, "tri.gltf", _triangle_gltf()))
    assert report.triangles == 1 and report.bounds_max_m == (1.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("bad.gltf", lambda: '{"asset": {"version": "2.0"}, "meshes": [', "not valid JSON"),
        (
            "lines.gltf",
            lambda: _triangle_gltf(mode=1),
            "meshes[0].primitives[0].mode: LINES (1) is not supported",
        ),
        ("points.gltf", lambda: _triangle_gltf(mode=0), "POINTS (0) is not supported"),
        (
            "noversion.gltf",
            lambda: {k: v for k, v in _triangle_gltf().items() if k != "asset"},
            "asset.version",
        ),
    ],
)
def test_validate_names_what_is_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, make: object, expected: str
) -> None:
    path = _write(tmp_path, name, make())  # type: ignore[operator]
    code, out, err = _run(capsys, "assets", "validate", str(path))
    assert code == 2 and out == ""
    assert expected in err


def test_missing_external_buffer_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _triangle_gltf()
    doc["buffers"] = [{"byteLength": 42, "uri": "mesh.bin"}]
    code, _, err = _run(capsys, "assets", "validate", str(_write(tmp_path, "ext.gltf", doc)))
    assert code == 2 and "buffers[0].uri: the file 'mesh.bin' is missing beside the model" in err


def test_external_buffer_beside_the_file_is_read_and_embedded_on_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    doc = _triangle_gltf()
    buffers = doc["buffers"]
    assert isinstance(buffers, list)
    data = base64.b64decode(buffers[0]["uri"].split(",", 1)[1])
    (tmp_path / "mesh.bin").write_bytes(data)
    buffers[0]["uri"] = "mesh.bin"
    src = _write(tmp_path, "ext.gltf", doc)
    assets = tmp_path / "assets"
    code, out, _ = _run(capsys, "assets", "import", str(src), "--id", "triangle", "--assets-dir", str(assets))
    assert code == 0, out
    (tmp_path / "mesh.bin").unlink()  # the GLB must not need it any more
    report = validate_file(assets / "models" / "triangle.glb")
    assert report.binary and report.triangles == 1


def test_accessor_past_the_end_of_its_view_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _triangle_gltf()
    accessors = doc["accessors"]
    assert isinstance(accessors, list)
    accessors[0]["count"] = 30
    code, _, err = _run(capsys, "assets", "validate", str(_write(tmp_path, "oob.gltf", doc)))
    assert code == 2
    assert "accessors[0]: 30 x VEC3" in err and "bufferViews[0] has 36" in err


def test_index_out_of_range_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _triangle_gltf()
    buffers = doc["buffers"]
    assert isinstance(buffers, list)
    import base64

    raw = bytearray(base64.b64decode(buffers[0]["uri"].split(",", 1)[1]))
    struct.pack_into("<H", raw, 40, 7)
    buffers[0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(bytes(raw)).decode()
    code, _, err = _run(capsys, "assets", "validate", str(_write(tmp_path, "idx.gltf", doc)))
    assert code == 2 and "indices: index 7 is out of range (POSITION has 3 vertices)" in err


def test_node_cycle_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _triangle_gltf()
    doc["nodes"] = [{"mesh": 0, "children": [1]}, {"children": [0]}]
    code, _, err = _run(capsys, "assets", "validate", str(_write(tmp_path, "cycle.gltf", doc)))
    assert code == 2 and "cycle" in err


def test_truncated_glb_is_refused(
    gltf_samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (gltf_samples / "ClearCoatCarPaint" / "ClearCoatCarPaint.glb").read_bytes()
    cut = tmp_path / "cut.glb"
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = _run(capsys, "assets", "validate", str(cut))
    assert code == 2 and "truncated" in err


def test_import_centres_on_the_ground_and_keeps_extensions(
    gltf_samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = gltf_samples / "SunglassesKhronos" / "SunglassesKhronos.glb"
    before = validate_file(src)
    code, out, _ = _run(
        capsys, "assets", "import", str(src), "--id", "sunglasses", "--assets-dir", str(tmp_path)
    )
    assert code == 0 and "sunglasses.glb" in out
    after = validate_file(tmp_path / "models" / "sunglasses.glb")
    assert after.bounds_min_m[1] == pytest.approx(0.0, abs=1e-6)
    assert after.bounds_min_m[0] + after.bounds_max_m[0] == pytest.approx(0.0, abs=1e-6)
    assert after.bounds_min_m[2] + after.bounds_max_m[2] == pytest.approx(0.0, abs=1e-6)
    assert after.size_m == pytest.approx(before.size_m, rel=1e-6)
    assert set(before.extensions_used) == set(after.extensions_used)
    assert after.triangles == before.triangles and after.materials == before.materials
    # a second import does not silently replace the model
    code, _, err = _run(
        capsys, "assets", "import", str(src), "--id", "sunglasses", "--assets-dir", str(tmp_path)
    )
    assert code == 2 and "--force" in err


def test_import_converts_units_and_up_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path, "tri.gltf", _triangle_gltf())  # 1 unit wide, 1 unit tall along +Y
    code, _, _ = _run(
        capsys,
        "assets",
        "import",
        str(src),
        "--id",
        "tri",
        "--unit-m",
        "0.01",
        "--up",
        "z",
        "--assets-dir",
        str(tmp_path),
    )
    assert code == 0
    report = validate_file(tmp_path / "models" / "tri.glb")
    # 1 unit = 1 cm; the file's +Y (its depth when Z is up) becomes -Z, its Z (0) becomes the height
    assert report.size_m == pytest.approx((0.01, 0.0, 0.01), abs=1e-9)


def test_import_refuses_a_bad_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path, "tri.gltf", _triangle_gltf())
    code, _, err = _run(
        capsys, "assets", "import", str(src), "--id", "../evil", "--assets-dir", str(tmp_path)
    )
    assert code == 2 and "--id" in err
    assert not (tmp_path / "models").exists()


def test_catalog_list_json_has_the_wire_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "list", "--json", "--assets-dir", str(ROOT / "assets"))
    assert code == 0
    products = json.loads(out)["products"]
    assert len(products) >= 14
    for p in products:
        assert {"id", "kind", "name", "variants"} <= set(p)
        assert set(p["name"]) == {"zh", "en"}
        assert all("id" in v for v in p["variants"])
    car = next(p for p in products if p["kind"] == "car")
    assert isinstance(car["variants"][0]["msrp_cny"], str)  # money stays exact


def test_catalog_list_table_and_bad_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "list", "--assets-dir", str(ROOT / "assets"))
    assert code == 0 and "car-suv-summit" in out and "products" in out
    (tmp_path / "catalog.toml").write_text('[[products]]\nid = "x"\nkind = "spaceship"\n')
    code, _, err = _run(capsys, "catalog", "list", "--assets-dir", str(tmp_path))
    assert code == 2 and "products[0].kind: must be one of" in err


def test_assets_build_writes_a_model_and_skips_it_when_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "assets" / "catalog.toml", tmp_path / "catalog.toml")
    args = (
        "assets",
        "build",
        "--only",
        "bar-au9999-10g",
        "--no-thumbnails",
        "--no-env",
        "--no-lods",
        "--assets-dir",
        str(tmp_path),
    )
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "built 1 models" in out
    glb = tmp_path / "models" / "bar-au9999-10g.glb"
    report = validate_file(glb)
    assert report.size_m[1] == pytest.approx(0.027, rel=0.01)  # standing upright, 27 mm tall
    assert "metal" in report.materials
    code, out, _ = _run(capsys, *args, "--if-stale")
    assert code == 0 and "up to date" in out
    code, _, err = _run(
        capsys, "assets", "build", "--only", "no-such-product", "--no-env", "--assets-dir", str(tmp_path)
    )
    assert code == 2 and "no-such-product" in err


def test_assets_build_writes_coarser_models_beside_each_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "assets" / "catalog.toml", tmp_path / "catalog.toml")
    code, out, _ = _run(
        capsys,
        "assets",
        "build",
        "--only",
        "ring-band-classic",
        "--no-thumbnails",
        "--no-env",
        "--assets-dir",
        str(tmp_path),
    )
    assert code == 0 and "LODs" in out
    models = tmp_path / "models"
    full, lod1, lod2 = (
        validate_file(models / n)
        for n in ("ring-band-classic.glb", "ring-band-classic.lod1.glb", "ring-band-classic.lod2.glb")
    )
    assert full.triangles > lod1.triangles > lod2.triangles
    assert lod1.triangles <= full.triangles // 4 + 8
    assert lod1.size_m == pytest.approx(full.size_m, rel=0.02)
    assert lod1.materials == ("metal",)
