"""The one accessor decoder: glTF accessors into numpy arrays, strides, normalized integers and sparse data.

`read_accessor(doc, index, where)` returns `(count, components)`: float32 for float and normalized accessors,
the component's integer dtype otherwise. The byte range is checked against the bufferView, and the element
count against the model's budget, before anything is allocated; float data must be finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pygltflib

from render_node.gltf.document import Document

COMPONENT_DTYPES: dict[int, np.dtype[Any]] = {
    pygltflib.BYTE: np.dtype("i1"),
    pygltflib.UNSIGNED_BYTE: np.dtype("u1"),
    pygltflib.SHORT: np.dtype("<i2"),
    pygltflib.UNSIGNED_SHORT: np.dtype("<u2"),
    pygltflib.UNSIGNED_INT: np.dtype("<u4"),
    pygltflib.FLOAT: np.dtype("<f4"),
}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_SPARSE_INDEX_TYPES = frozenset(pygltflib.ACCESSOR_SPARSE_INDICES_COMPONENT_TYPES)


def _strided(doc: Document, view_ref: object, byte_offset: int, count: int, dtype: np.dtype[Any], ncomp: int,
             where: str, what: str) -> npt.NDArray[Any]:
    """`count` elements of `ncomp` x `dtype` from a bufferView, honouring its stride; range checked first."""
    view = doc.view(view_ref, f"{where}.bufferView")
    elem = dtype.itemsize * ncomp
    stride = view.stride or elem
    if stride < elem:
        raise doc.fail(where, f"the view's byteStride {stride} is smaller than one {what} element ({elem} bytes)")
    if byte_offset % dtype.itemsize:
        raise doc.fail(f"{where}.byteOffset", f"{byte_offset} is not a multiple of the component size {dtype.itemsize}")
    needed = byte_offset + stride * (count - 1) + elem
    if needed > view.length:
        raise doc.fail(
            where,
            f"{count} x {what} {dtype.name} from byte {byte_offset} (stride {stride}) needs {needed} bytes, "
            f"past the end of its view: bufferViews[{view_ref}] has {view.length}",
        )
    raw = np.frombuffer(view.data, dtype=np.uint8, count=needed, offset=view.offset)
    rows = np.lib.stride_tricks.as_strided(raw[byte_offset:], shape=(count, elem), strides=(stride, 1),
                                           writeable=False)
    return np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp)


def read_accessor(doc: Document, index: object, where: str) -> npt.NDArray[Any]:
    """Accessor `index` as `(count, components)`; `where` names the field that refers to it."""
    i = doc.index(index, "accessors", where)
    acc = doc.array("accessors")[i]
    at = f"accessors[{i}]"
    ctype = acc.get("componentType")
    if isinstance(ctype, bool) or ctype not in COMPONENT_DTYPES:
        raise doc.fail(f"{at}.componentType", f"{ctype!r} is not a glTF component type")
    atype = acc.get("type")
    if not isinstance(atype, str) or atype not in TYPE_SIZES:
        raise doc.fail(f"{at}.type", f"{atype!r} is not a glTF accessor type")
    dtype, ncomp = COMPONENT_DTYPES[ctype], TYPE_SIZES[atype]
    count = doc.integer(acc, "count", at, minimum=1)
    doc.charge_elements(count * ncomp, f"{at}.count")
    if "bufferView" in acc:
        offset = doc.integer(acc, "byteOffset", at, default=0)
        arr = _strided(doc, acc["bufferView"], offset, count, dtype, ncomp, at, atype)
    else:
        if "byteOffset" in acc:
            raise doc.fail(f"{at}.byteOffset", "is set but there is no bufferView")
        arr = np.zeros((count, ncomp), dtype=dtype)
    if "sparse" in acc:
        arr = _apply_sparse(doc, acc["sparse"], arr, f"{at}.sparse", atype)
    if acc.get("normalized", False):
        if dtype.kind not in "iu" or ctype == pygltflib.UNSIGNED_INT:
            raise doc.fail(f"{at}.normalized", f"is only allowed on 8- and 16-bit integers, not {dtype.name}")
        out: npt.NDArray[Any] = np.maximum(arr.astype(np.float32) / float(np.iinfo(dtype).max), -1.0)
        return out
    if dtype.kind == "f" and not np.isfinite(arr).all():
        raise doc.fail(at, "holds NaN or infinite values")
    return arr


def _apply_sparse(doc: Document, sparse: object, base: npt.NDArray[Any], where: str,
                  atype: str) -> npt.NDArray[Any]:
    """`base` with the sparse substitutions applied (indices strictly increasing and below `len(base)`)."""
    if not isinstance(sparse, dict):
        raise doc.fail(where, "must be an object")
    n = doc.integer(sparse, "count", where, minimum=1)
    if n > len(base):
        raise doc.fail(f"{where}.count", f"{n} substitutions for {len(base)} elements")
    ind_spec, val_spec = sparse.get("indices"), sparse.get("values")
    if not isinstance(ind_spec, dict) or not isinstance(val_spec, dict):
        raise doc.fail(where, "needs indices and values objects")
    itype = ind_spec.get("componentType")
    if isinstance(itype, bool) or not isinstance(itype, int) or itype not in _SPARSE_INDEX_TYPES:
        raise doc.fail(f"{where}.indices.componentType", f"{itype!r} is not an unsigned integer type")
    doc.charge_elements(n * (1 + base.shape[1]), f"{where}.count")
    ind = _strided(doc, ind_spec.get("bufferView"), doc.integer(ind_spec, "byteOffset", f"{where}.indices", default=0),
                   n, COMPONENT_DTYPES[itype], 1, f"{where}.indices", "SCALAR").reshape(-1).astype(np.int64)
    vals = _strided(doc, val_spec.get("bufferView"), doc.integer(val_spec, "byteOffset", f"{where}.values", default=0),
                    n, base.dtype, base.shape[1], f"{where}.values", atype)
    if np.any(np.diff(ind) <= 0):
        raise doc.fail(f"{where}.indices", "must be strictly increasing")
    if ind[-1] >= len(base):
        raise doc.fail(f"{where}.indices", f"index {int(ind[-1])} is past the {len(base)} elements")
    out = base.copy()
    out[ind] = vals
    return out
