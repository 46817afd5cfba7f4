"""Small panda3d geometry built from numpy arrays: the sky sphere, the baking spheres, the shadow quad."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import panda3d.core as p3d

F32 = npt.NDArray[np.float32]
U32 = npt.NDArray[np.uint32]


def sphere_mesh(rings: int, segments: int) -> tuple[F32, U32]:
    """A unit UV sphere: positions `(n, 3) float32` (also its normals) and triangle indices `(3m,) uint32`."""
    lat = np.linspace(0, np.pi, rings + 1)
    lon = np.linspace(0, 2 * np.pi, segments + 1)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    pos = np.stack([np.sin(la) * np.sin(lo), np.cos(la), np.sin(la) * np.cos(lo)], -1).reshape(-1, 3).astype(np.float32)
    i, j = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
    a = (i * (segments + 1) + j).ravel()
    b = a + segments + 1
    idx = np.stack([a, b, a + 1, a + 1, b, b + 1], -1).reshape(-1).astype(np.uint32)
    return pos, idx


def make_geom(pos: F32, idx: U32, *, normals: F32 | None = None, uv: F32 | None = None) -> p3d.Geom:
    """One interleaved vertex array (vertex, then normal and `a_uv0` when given) and indexed triangles."""
    fmt = p3d.GeomVertexArrayFormat()
    fmt.add_column(p3d.InternalName.get_vertex(), 3, p3d.GeomEnums.NT_float32, p3d.GeomEnums.C_point)
    columns = [pos]
    if normals is not None:
        fmt.add_column(p3d.InternalName.get_normal(), 3, p3d.GeomEnums.NT_float32, p3d.GeomEnums.C_normal)
        columns.append(normals)
    if uv is not None:
        fmt.add_column(p3d.InternalName.make("a_uv0"), 2, p3d.GeomEnums.NT_float32, p3d.GeomEnums.C_texcoord)
        columns.append(uv)
    vfmt = p3d.GeomVertexFormat.register_format(p3d.GeomVertexFormat(fmt))
    vdata = p3d.GeomVertexData("mesh", vfmt, p3d.GeomEnums.UH_static)
    rows = np.concatenate(columns, axis=1)
    handle = vdata.modify_array(0)
    handle.unclean_set_num_rows(len(rows))
    memoryview(handle).cast("B")[:] = np.ascontiguousarray(rows, np.float32).tobytes()
    tris = p3d.GeomTriangles(p3d.GeomEnums.UH_static)
    tris.set_index_type(p3d.GeomEnums.NT_uint32)
    ih = tris.modify_vertices()
    ih.unclean_set_num_rows(len(idx))
    memoryview(ih).cast("B")[:] = np.ascontiguousarray(idx, np.uint32).tobytes()
    geom = p3d.Geom(vdata)
    geom.add_primitive(tris)
    return geom
