"""The one glTF reader: every shared sample reads, and hostile files are refused with the field named, in the
same words by the validator (`showroom assets validate`) and by the renderer's loader. No GL here."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from render_node.assets.gltf_import import import_model, validate_file
from render_node.cli import main
from render_node.gltf import MAX_ELEMENTS, read_model
from render_node.render.errors import ModelInvalid
from render_node.render.gltf import read_gltf
from tests.render_models import write_glb

POSITIONS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes()  # 36 bytes
INDICES = struct.pack("<3H", 0, 1, 2) + b"\0\0"  # 8 bytes
DATA = POSITIONS + INDICES
Doc = dict[str, Any]


def triangle(uri: str | None = None) -> Doc:
    """A one-triangle glTF: positions (3 x VEC3 float) then indices (3 x u16) in buffer 0 (a data URI)."""
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(DATA), "uri": uri or _data_uri(DATA)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"},
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
    }


def _data_uri(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def _with(**changes: Callable[[Doc], object]) -> Callable[[Path], Path]:
    """A maker of `model/tri.gltf` (inside tmp_path) after applying each change to the document."""

    def make(tmp: Path) -> Path:
        doc = triangle()
        for change in changes.values():
            change(doc)
        folder = tmp / "model"
        folder.mkdir(exist_ok=True)
        (folder / "tri.gltf").write_text(json.dumps(doc))
        return folder / "tri.gltf"

    return make


def _set(path: str, value: object) -> Callable[[Doc], object]:
    """Sets `a.0.b` style paths in the document."""

    def change(doc: Doc) -> object:
        *head, last = path.split(".")
        obj: Any = doc
        for key in head:
            obj = obj[int(key)] if key.isdigit() else obj[key]
        if last.isdigit():
            obj[int(last)] = value
        else:
            obj[last] = value
        return None

    return change


def _outside_file(tmp: Path) -> Path:
    """A secret beside (not inside) the model's folder, with the triangle's bytes so a read would succeed."""
    secret = tmp / "secret.bin"
    secret.write_bytes(DATA)
    return secret


def _symlink_out(tmp: Path) -> Path:
    secret = _outside_file(tmp)
    path = _with(uri=_set("buffers.0.uri", "link.bin"))(tmp)
    (path.parent / "link.bin").symlink_to(secret)
    return path


def _escaping(uri: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        _outside_file(tmp)
        return _with(uri=_set("buffers.0.uri", uri))(tmp)

    return make


def _image_out(tmp: Path) -> Path:
    (tmp / "face.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return _with(img=_set("images", [{"uri": "../face.png"}]))(tmp)


def _glb(tmp: Path, edit: Callable[[bytes], bytes] = lambda b: b) -> Path:
    doc = triangle()
    del doc["buffers"][0]["uri"]
    good = write_glb(tmp / "good.glb", doc, DATA).read_bytes()
    out = tmp / "model.glb"
    out.write_bytes(edit(good))
    return out


def _sparse(indices: list[int], count: int = 1) -> Callable[[Path], Path]:
    """POSITION with a sparse substitution: vertex indices[k] -> (5, 5, 5) (values and indices in buffer 1)."""

    def make(tmp: Path) -> Path:
        values = np.full((count, 3), 5, np.float32).tobytes()
        ind = struct.pack(f"<{count}I", *indices)
        doc = triangle()
        doc["buffers"].append({"byteLength": len(ind) + len(values), "uri": _data_uri(ind + values)})
        doc["bufferViews"] += [
            {"buffer": 1, "byteOffset": 0, "byteLength": len(ind)},
            {"buffer": 1, "byteOffset": len(ind), "byteLength": len(values)},
        ]
        doc["accessors"][0]["sparse"] = {
            "count": count,
            "indices": {"bufferView": 2, "componentType": 5125},
            "values": {"bufferView": 3},
        }
        path = tmp / "sparse.gltf"
        path.write_text(json.dumps(doc))
        return path

    return make


HOSTILE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("dot-dot", _escaping("../secret.bin"), "buffers[0].uri: '../secret.bin' leaves the model's folder"),
    ("etc-passwd", _escaping("../../etc/passwd"), "buffers[0].uri: '../../etc/passwd' leaves the model's folder"),
    ("percent-encoded", _escaping("%2E%2E/secret.bin"), "buffers[0].uri: '%2E%2E/secret.bin' leaves the model's folder"),
    ("absolute", _escaping("/etc/passwd"), "buffers[0].uri: '/etc/passwd' is an absolute path"),
    ("symlink-out", _symlink_out, "buffers[0].uri: 'link.bin' leaves the model's folder"),
    ("file-scheme", _escaping("file:///etc/passwd"), "buffers[0].uri: 'file:///etc/passwd': the scheme file: is not read"),
    ("http-scheme", _escaping("http://example.com/a.bin"), "the scheme http: is not read"),
    ("plain-data-uri", _escaping("data:application/octet-stream,AAAA"), "buffers[0].uri: data URIs must be base64"),
    ("image-out", _image_out, "images[0].uri: '../face.png' leaves the model's folder"),
    ("missing-file", _escaping("mesh.bin"), "buffers[0].uri: the file 'mesh.bin' is missing beside the model"),
    ("huge-count", _with(c=_set("accessors.0.count", 10**12)), f"accessors[0].count: {3 * 10**12} elements would pass the {MAX_ELEMENTS}"),
    (
        "huge-count-no-view",
        _with(c=_set("accessors.0", {"componentType": 5126, "count": 10**9, "type": "VEC3"})),
        "accessors[0].count: 3000000000 elements would pass",
    ),
    ("past-view", _with(c=_set("accessors.0.count", 30)), "accessors[0]: 30 x VEC3 float32 from byte 0 (stride 12) needs 360 bytes, past the end of its view: bufferViews[0] has 36"),
    ("view-past-buffer", _with(v=_set("bufferViews.0.byteLength", 1000)), "bufferViews[0]: bytes 0..1000 run past the end of buffers[0] (44 bytes)"),
    ("no-such-view", _with(v=_set("accessors.0.bufferView", 5)), "accessors[0].bufferView: bufferViews[5] does not exist (the file has 2)"),
    ("short-buffer", _with(b=_set("buffers.0.byteLength", 100)), "buffers[0].byteLength: 100 bytes declared but only 44 are there"),
    ("odd-stride", _with(s=_set("bufferViews.0.byteStride", 6)), "bufferViews[0].byteStride: 6 is not a multiple of 4 in 4..252"),
    ("huge-stride", _with(s=_set("bufferViews.0.byteStride", 256)), "bufferViews[0].byteStride: 256 is not a multiple of 4 in 4..252"),
    ("stride-below-element", _with(s=_set("bufferViews.0.byteStride", 4)), "accessors[0]: the view's byteStride 4 is smaller than one VEC3 element (12 bytes)"),
    ("truncated-glb", lambda t: _glb(t, lambda b: b[: len(b) // 2]), "GLB: truncated: the header says 552 bytes, the file has 276"),
    ("long-glb", lambda t: _glb(t, lambda b: b + bytes(8)), "GLB: the header says 552 bytes but the file has 560"),
    ("glb-version", lambda t: _glb(t, lambda b: b[:4] + struct.pack("<I", 1) + b[8:]), "GLB: container version 1"),
    (
        "glb-chunk-past-end",
        lambda t: _glb(t, lambda b: b[:12] + struct.pack("<I", 4000) + b[16:]),
        "GLB: the chunk at byte 12 (4000 bytes) runs past the end",
    ),
    ("glb-bin-first", lambda t: _glb(t, lambda b: b[:16] + b"BIN\0" + b[20:]), "GLB: the first chunk must be JSON"),
    ("lines", _with(m=_set("meshes.0.primitives.0.mode", 1)), "meshes[0].primitives[0].mode: LINES (1) is not supported"),
    (  # the u16 view of the float 1.0 (bytes 00 00 80 3f) holds 16256
        "index-out-of-range",
        _with(i=_set("accessors.1", {"componentType": 5123, "count": 3, "type": "SCALAR", "bufferView": 0, "byteOffset": 12})),
        "meshes[0].primitives[0].indices: index 16256 is out of range (POSITION has 3 vertices)",
    ),
    ("normalized-float", _with(n=_set("accessors.0.normalized", True)), "accessors[0].normalized: is only allowed on 8- and 16-bit integers"),
    ("sparse-index-past-end", _sparse([7]), "accessors[0].sparse.indices: index 7 is past the 3 elements"),
    ("sparse-not-increasing", _sparse([2, 1], count=2), "accessors[0].sparse.indices: must be strictly increasing"),
    ("cycle", _with(n=_set("nodes", [{"mesh": 0, "children": [1]}, {"children": [0]}])), "nodes[0]: is its own ancestor"),
    ("node-twice", _with(n=_set("scenes.0.nodes", [0, 0])), "nodes[0]: appears twice in the scene"),
    ("old-version", _with(a=_set("asset.version", "1.0")), "asset.version: '1.0'; only glTF 2.0 is supported"),
    ("draco", _with(e=_set("extensionsRequired", ["KHR_draco_mesh_compression"])), "extensionsRequired: KHR_draco_mesh_compression is not supported"),
]


def _refusal(read: Callable[[Path], object], path: Path) -> str:
    with pytest.raises(ModelInvalid) as info:
        read(path)
    return str(info.value)


@pytest.mark.parametrize(("make", "expected"), [(m, e) for _, m, e in HOSTILE], ids=[n for n, _, _ in HOSTILE])
def test_a_hostile_file_is_refused_with_the_same_message_by_validator_and_renderer(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path)
    message = _refusal(validate_file, path)
    assert message.startswith(f"{path.name}: ") and expected in message
    assert _refusal(read_gltf, path) == message


def test_every_shared_sample_validates_and_reads_the_same_triangles(gltf_samples: Path) -> None:
    samples = sorted(gltf_samples.glob("*/*.glb"))
    assert len(samples) >= 6
    for path in samples:
        report = validate_file(path)
        assert report.triangles > 0 and report.binary, path.name
        assert read_gltf(path).triangle_count == report.triangles, path.name


def test_sparse_positions_are_drawn_and_validated_alike(tmp_path: Path) -> None:
    path = _sparse([1])(tmp_path)
    asset = read_model(path)
    np.testing.assert_array_equal(asset.meshes[0][0].positions[asset.meshes[0][0].indices[:3]][1], [5, 5, 5])
    assert validate_file(path).bounds_max_m == (5.0, 5.0, 5.0)


def test_strides_and_normalized_integers_decode(tmp_path: Path) -> None:
    # positions interleaved with 4 bytes of padding (stride 16); UVs as normalized u8
    interleaved = b"".join(POSITIONS[i * 12 : i * 12 + 12] + bytes(4) for i in range(3))
    uvs = bytes([0, 255, 255, 0, 128, 128]) + bytes(2)
    data = interleaved + INDICES + uvs
    doc = triangle(_data_uri(data))
    doc["buffers"][0]["byteLength"] = len(data)
    doc["bufferViews"] = [
        {"buffer": 0, "byteOffset": 0, "byteLength": 48, "byteStride": 16},
        {"buffer": 0, "byteOffset": 48, "byteLength": 6},
        {"buffer": 0, "byteOffset": 56, "byteLength": 6},
    ]
    doc["accessors"].append({"bufferView": 2, "componentType": 5121, "normalized": True, "count": 3, "type": "VEC2"})
    doc["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"] = 2
    path = tmp_path / "strided.gltf"
    path.write_text(json.dumps(doc))
    prim = read_model(path).meshes[0][0]
    np.testing.assert_allclose(prim.positions[prim.indices[:3]], np.frombuffer(POSITIONS, np.float32).reshape(3, 3))
    uv = prim.texcoords[0]
    assert uv is not None
    np.testing.assert_allclose(uv[prim.indices[:3]], np.array([[0, 1], [1, 0], [128 / 255, 128 / 255]]), atol=1e-6)


def test_a_uri_inside_the_folder_is_read_even_through_a_subfolder(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "mesh.bin").write_bytes(DATA)
    path = folder / "tri.gltf"
    path.write_text(json.dumps(triangle("bin/../bin/mesh.bin")))
    assert validate_file(path).triangles == 1


def test_validate_command_names_the_escaping_uri(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _escaping("../../etc/passwd")(tmp_path)
    assert main(["assets", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "buffers[0].uri: '../../etc/passwd' leaves the model's folder" in err
    assert err.strip() == f"showroom assets: {_refusal(read_gltf, path)}"


def test_import_never_embeds_a_file_from_outside_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for make in (_escaping("../secret.bin"), _symlink_out, _image_out):
        path = make(tmp_path)
        with pytest.raises(ModelInvalid, match="leaves the model's folder"):
            import_model(path)
        code = main(["assets", "import", str(path), "--id", "tri", "--assets-dir", str(tmp_path / "assets")])
        assert code == 2 and "leaves the model's folder" in capsys.readouterr().err
        assert not (tmp_path / "assets" / "models" / "tri.glb").exists()
        for p in tmp_path.rglob("*"):
            if p.is_symlink() or p.is_file():
                p.unlink()


def test_an_imported_glb_carries_only_what_the_reader_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "mesh.bin").write_bytes(DATA)
    (folder / "tri.gltf").write_text(json.dumps(triangle("mesh.bin")))
    result = import_model(folder / "tri.gltf")
    (folder / "mesh.bin").unlink()
    out = tmp_path / "tri.glb"
    out.write_bytes(result.glb)
    assert read_model(out).triangle_count == 1
    assert b"mesh.bin" not in result.glb


def test_the_byte_budget_is_checked_before_a_buffer_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import render_node.gltf.document as document

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "mesh.bin").write_bytes(DATA)
    (folder / "tri.gltf").write_text(json.dumps(triangle("mesh.bin")))
    monkeypatch.setattr(document, "MAX_TOTAL_BYTES", 40)
    message = _refusal(validate_file, folder / "tri.gltf")
    assert message == "tri.gltf: buffers[0].uri: 44 more bytes would pass the 40 bytes allowed per model"
    assert _refusal(read_gltf, folder / "tri.gltf") == message


@pytest.mark.parametrize(("mode", "triangles"), [(4, 1), (5, 1), (6, 1)])
def test_strips_and_fans_validate_and_read_as_the_triangles_they_draw(tmp_path: Path, mode: int, triangles: int) -> None:
    path = _with(m=_set("meshes.0.primitives.0.mode", mode))(tmp_path)
    assert validate_file(path).triangles == read_gltf(path).triangle_count == triangles
