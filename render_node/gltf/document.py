"""The glTF document: the GLB container or JSON text, the buffers, the URIs and the byte ranges of views.

Every rule about bytes lives here, checked before anything is allocated:
- GLB: the 12-byte header ('glTF', version 2, a length equal to the file's), then a JSON chunk, then at most one
  BIN chunk; every chunk inside the file;
- URIs resolve only inside the model's folder: relative paths that stay in it after `..` and symlinks are
  followed, or base64 `data:` URIs; absolute paths, other schemes (`file:`, `http:`...) and non-base64 data
  URIs are refused;
- a buffer holds at least its `byteLength` bytes; a bufferView lies inside its buffer; strides are multiples
  of 4 in 4..252; all buffers and images together stay under `MAX_TOTAL_BYTES`.

Each refusal is a `ModelInvalid` naming the file and the field: `chair.gltf: buffers[0].uri: '../x.bin' leaves
the model's folder`. The GLB constants come from pygltflib; its own loaders check neither GLB lengths nor
where a URI points, so they are not used to read files.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pygltflib

from render_node.render.errors import ModelInvalid

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest .glb/.gltf file read."""
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
"""All buffers and images of one model together."""
MAX_ELEMENTS = 64 * 1024 * 1024
"""Accessor elements (vertices, indices, ...) decoded from one model, all accessors together."""
SUPPORTED_EXTENSIONS = frozenset(
    {
        "KHR_materials_clearcoat",
        "KHR_materials_transmission",
        "KHR_materials_ior",
        "KHR_materials_emissive_strength",
        "KHR_materials_volume",
        "KHR_materials_specular",
        "KHR_materials_iridescence",
        "KHR_materials_dispersion",
        "KHR_materials_anisotropy",
        "KHR_materials_sheen",
        "KHR_materials_unlit",
        "KHR_texture_transform",
        "KHR_mesh_quantization",
        "KHR_lights_punctual",
    }
)
CHUNK_JSON = struct.unpack("<I", pygltflib.JSON.encode("ascii"))[0]
CHUNK_BIN = struct.unpack("<I", pygltflib.BIN.encode("ascii"))[0]
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class View:
    """A checked bufferView: `data[offset : offset + length]` lies inside its buffer."""

    data: bytes
    offset: int
    length: int
    stride: int | None


@dataclass
class Document:
    """A glTF file's JSON with its buffers loaded and checked. `base_dir` is None for bytes with no folder."""

    name: str
    json: dict[str, Any]
    binary: bool
    buffers: list[bytes]
    base_dir: Path | None
    _bytes_used: int = field(default=0, repr=False)
    _elements: int = field(default=0, repr=False)
    _arrays: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def fail(self, where: str, what: str) -> ModelInvalid:
        return ModelInvalid(f"{self.name}: {where}: {what}")

    def array(self, key: str) -> list[dict[str, Any]]:
        """A top-level array of objects (empty when absent); checked once, then cached."""
        checked = self._arrays.get(key)
        if checked is not None:
            return checked
        value = self.json.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "must be an array")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be an object")
        self._arrays[key] = value
        return value

    def index(self, value: object, key: str, where: str) -> int:
        """`value` checked as an index into the top-level array `key`."""
        count = len(self.array(key))
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"must be an index into {key}")
        if not 0 <= value < count:
            raise self.fail(where, f"{key}[{value}] does not exist (the file has {count})")
        return value

    def integer(self, obj: dict[str, Any], key: str, where: str, *, default: int | None = None,
                minimum: int = 0) -> int:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{where}.{key}", f"must be an integer >= {minimum} (got {value!r})")
        return value

    def charge_bytes(self, n: int, where: str) -> None:
        """Counts `n` more bytes against `MAX_TOTAL_BYTES` before they are read."""
        if self._bytes_used + n > MAX_TOTAL_BYTES:
            raise self.fail(where, f"{n} more bytes would pass the {MAX_TOTAL_BYTES} bytes allowed per model")
        self._bytes_used += n

    def charge_elements(self, n: int, where: str) -> None:
        """Counts `n` more decoded elements against `MAX_ELEMENTS` before they are allocated."""
        if n > MAX_ELEMENTS - self._elements:
            raise self.fail(where, f"{n} elements would pass the {MAX_ELEMENTS} allowed per model")
        self._elements += n

    def view(self, index: object, where: str) -> View:
        """A bufferView, checked: its range lies inside its buffer and its stride is legal."""
        v = self.index(index, "bufferViews", where)
        spec = self.array("bufferViews")[v]
        at = f"bufferViews[{v}]"
        b = self.index(spec.get("buffer"), "buffers", f"{at}.buffer")
        offset = self.integer(spec, "byteOffset", at, default=0)
        length = self.integer(spec, "byteLength", at, minimum=1)
        size = len(self.buffers[b])
        if offset + length > size:
            raise self.fail(at, f"bytes {offset}..{offset + length} run past the end of buffers[{b}] ({size} bytes)")
        stride: int | None = None
        if "byteStride" in spec:
            stride = spec["byteStride"]
            if isinstance(stride, bool) or not isinstance(stride, int) or not 4 <= stride <= 252 or stride % 4:
                raise self.fail(f"{at}.byteStride", f"{stride!r} is not a multiple of 4 in 4..252")
        return View(self.buffers[b], offset, length, stride)

    def image_bytes(self, index: int) -> bytes:
        """The encoded bytes of `images[index]` (from its bufferView or its URI)."""
        img = self.array("images")[index]
        at = f"images[{index}]"
        if "bufferView" in img:
            view = self.view(img["bufferView"], f"{at}.bufferView")
            self.charge_bytes(view.length, f"{at}.bufferView")  # a copy: many images on one view add up
            return view.data[view.offset : view.offset + view.length]
        if "uri" in img:
            return self.read_uri(img["uri"], f"{at}.uri")
        raise self.fail(at, "has neither uri nor bufferView")

    def read_uri(self, uri: object, where: str) -> bytes:
        """The bytes behind a URI: a base64 data URI or a file inside the model's folder."""
        if not isinstance(uri, str) or not uri:
            raise self.fail(where, "must be a non-empty string")
        if uri.startswith("data:"):
            head, comma, payload = uri.partition(",")
            if not comma or not head.endswith(";base64"):
                raise self.fail(where, "data URIs must be base64 (data:...;base64,...)")
            self.charge_bytes(len(payload) * 3 // 4, where)
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise self.fail(where, "the base64 data is corrupt") from None
        if _SCHEME_RE.match(uri):
            scheme = uri.split(":", 1)[0]
            raise self.fail(where, f"{uri!r}: the scheme {scheme}: is not read; only files in the model's "
                                   "folder and base64 data URIs are")
        rel = urllib.parse.unquote(uri)
        if "\0" in rel or PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or rel[:1] == "\\":
            raise self.fail(where, f"{uri!r} is an absolute path; only files in the model's folder are read")
        if self.base_dir is None:
            raise self.fail(where, f"{uri!r}: this model has no folder to read files from")
        base = self.base_dir.resolve()
        target = (base / rel).resolve()
        if not target.is_relative_to(base):
            raise self.fail(where, f"{uri!r} leaves the model's folder")
        if not target.is_file():
            raise self.fail(where, f"the file {uri!r} is missing beside the model")
        self.charge_bytes(target.stat().st_size, where)
        try:
            return target.read_bytes()
        except OSError as exc:
            raise self.fail(where, f"cannot read {uri!r} ({exc.strerror or exc})") from None


def read_document(path: Path) -> Document:
    """Reads a .glb or .gltf file and its buffers. Raises `ModelInvalid` naming the first broken field."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ModelInvalid(f"{path}: not a file")
    except OSError as exc:
        raise ModelInvalid(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise ModelInvalid(f"{path.name}: {size} bytes is more than the {MAX_FILE_BYTES} bytes allowed")
    return parse_document(path.read_bytes(), path.name, path.parent)


def parse_document(data: bytes, name: str, base_dir: Path | None) -> Document:
    """A document from the bytes of a .glb or .gltf file; relative URIs resolve in `base_dir` (None: refused)."""
    if data[:4] == pygltflib.MAGIC:
        doc, bin_chunk = _split_glb(data, name)
        binary = True
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ModelInvalid(f"{name}: not a glTF file: neither GLB (no 'glTF' magic) nor UTF-8 JSON") from None
        doc, bin_chunk, binary = _parse_json(text, name, "the file"), None, False
    if not isinstance(doc, dict):
        raise ModelInvalid(f"{name}: the glTF JSON must be an object")
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not isinstance(asset.get("version"), str):
        raise ModelInvalid(f"{name}: asset.version: missing (every glTF file must say its version)")
    if not asset["version"].startswith("2."):
        raise ModelInvalid(f"{name}: asset.version: {asset['version']!r}; only glTF 2.0 is supported")
    document = Document(name, doc, binary, [], base_dir)
    for key in ("extensionsUsed", "extensionsRequired"):
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
            raise document.fail(key, "must be an array of extension names")
    unsupported = sorted(set(doc.get("extensionsRequired", [])) - SUPPORTED_EXTENSIONS)
    if unsupported:
        raise document.fail("extensionsRequired", f"{', '.join(unsupported)} is not supported by the renderer")
    document.charge_bytes(len(bin_chunk or b""), "GLB BIN chunk")
    document.buffers = _load_buffers(document, bin_chunk)
    return document


def _parse_json(text: str, name: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelInvalid(
            f"{name}: {where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ModelInvalid(f"{name}: {where} nests too deeply") from None


def _split_glb(data: bytes, name: str) -> tuple[Any, bytes | None]:
    """The JSON and BIN chunks of a GLB file, after checking the header and every chunk's extent."""
    if len(data) < 20:
        raise ModelInvalid(f"{name}: GLB: {len(data)} bytes is too short for a header and a chunk (truncated?)")
    _magic, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise ModelInvalid(f"{name}: GLB: container version {version}; only glTF 2.0 is supported")
    if length > len(data):
        raise ModelInvalid(f"{name}: GLB: truncated: the header says {length} bytes, the file has {len(data)}")
    if length != len(data):
        raise ModelInvalid(f"{name}: GLB: the header says {length} bytes but the file has {len(data)}")
    offset = 12
    chunks: list[tuple[int, bytes]] = []
    while offset < length:
        if offset + 8 > length:
            raise ModelInvalid(f"{name}: GLB: the chunk header at byte {offset} runs past the end (truncated?)")
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        if offset + 8 + chunk_len > length:
            raise ModelInvalid(
                f"{name}: GLB: the chunk at byte {offset} ({chunk_len} bytes) runs past the end (truncated?)"
            )
        chunks.append((chunk_type, data[offset + 8 : offset + 8 + chunk_len]))
        offset += 8 + chunk_len
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise ModelInvalid(f"{name}: GLB: the first chunk must be JSON")
    if any(kind == CHUNK_BIN for kind, _ in chunks[2:]) or any(kind == CHUNK_JSON for kind, _ in chunks[1:]):
        raise ModelInvalid(f"{name}: GLB: one JSON chunk, then at most one BIN chunk, is allowed")
    try:
        text = chunks[0][1].decode("utf-8")
    except UnicodeDecodeError:
        raise ModelInvalid(f"{name}: GLB: the JSON chunk is not UTF-8") from None
    bin_chunk = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return _parse_json(text, name, "the GLB JSON chunk"), bin_chunk


def _load_buffers(doc: Document, bin_chunk: bytes | None) -> list[bytes]:
    out: list[bytes] = []
    for i, spec in enumerate(doc.array("buffers")):
        at = f"buffers[{i}]"
        length = doc.integer(spec, "byteLength", at, minimum=1)
        if "uri" in spec:
            data = doc.read_uri(spec["uri"], f"{at}.uri")
        elif i == 0 and bin_chunk is not None:
            data = bin_chunk
        else:
            raise doc.fail(at, "has no uri and there is no GLB binary chunk to take its data from")
        if len(data) < length:
            raise doc.fail(f"{at}.byteLength", f"{length} bytes declared but only {len(data)} are there")
        out.append(data[:length] if len(data) > length else data)
    return out
