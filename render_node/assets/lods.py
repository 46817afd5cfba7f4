"""Levels of detail by quadric error decimation (open3d), and model triangle budgets.

`decimate(mesh, target_triangles)` keeps the silhouette and relief of a mesh while dropping triangles from flat
areas first. `build_lods(scene, ratios)` makes coarser copies of a whole model (each material kept apart) for
the renderer to pick by screen size: LOD0 is the hero mesh, LOD1 ~ 1/4, LOD2 ~ 1/16 of its triangles.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import trimesh

from render_node.render.errors import ModelInvalid

DEFAULT_LOD_RATIOS: tuple[float, ...] = (1.0, 0.25, 0.0625)


def decimate(mesh: trimesh.Trimesh, target_triangles: int) -> trimesh.Trimesh:
    """Quadric decimation to at most `target_triangles` (a mesh already below the target is returned as is).

    Only positions and faces survive (normals are recomputed; UVs must be re-projected by the caller)."""
    if target_triangles < 4:
        raise ModelInvalid(f"a LOD needs at least 4 triangles, asked for {target_triangles}")
    if len(mesh.faces) <= target_triangles:
        return mesh
    with warnings.catch_warnings():  # the wheel warns that it was built with CUDA and finds no GPU
        warnings.simplefilter("ignore", ImportWarning)
        import open3d as o3d  # heavy: imported only when decimating

    o3 = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(mesh.vertices, dtype=np.float64)),
        o3d.utility.Vector3iVector(np.asarray(mesh.faces, dtype=np.int32)),
    )
    simple = o3.simplify_quadric_decimation(target_number_of_triangles=int(target_triangles))
    simple.remove_degenerate_triangles()
    simple.remove_duplicated_triangles()
    simple.remove_unreferenced_vertices()
    out = trimesh.Trimesh(np.asarray(simple.vertices), np.asarray(simple.triangles), process=True)
    return out


def triangle_count(scene: trimesh.Scene) -> int:
    return int(sum(len(g.faces) for g in scene.geometry.values() if isinstance(g, trimesh.Trimesh)))


def build_lods(scene: trimesh.Scene, ratios: Sequence[float] = DEFAULT_LOD_RATIOS) -> list[trimesh.Scene]:
    """Copies of `scene` with each mesh decimated to `ratio` of its triangles; materials and UVs are kept
    (UVs of decimated meshes are re-projected onto the model's bounds)."""
    from render_node.assets._mesh import box_uv

    lods: list[trimesh.Scene] = []
    bounds = np.asarray(scene.bounds)
    for ratio in ratios:
        if not 0 < ratio <= 1:
            raise ModelInvalid(f"LOD ratio must be in (0, 1], got {ratio}")
        if ratio == 1.0:
            lods.append(scene.copy())
            continue
        out = trimesh.Scene()
        for node in scene.graph.nodes_geometry:
            transform, geom_name = scene.graph[node]
            geom = scene.geometry[geom_name]
            if not isinstance(geom, trimesh.Trimesh):
                continue
            world = geom.copy()
            world.apply_transform(transform)
            target = max(4, int(len(world.faces) * ratio))
            simple = decimate(world, target) if target < len(world.faces) else world
            material = getattr(geom.visual, "material", None)
            visual = trimesh.visual.TextureVisuals(uv=box_uv(simple, bounds), material=material)  # type: ignore[no-untyped-call]
            mesh = trimesh.Trimesh(simple.vertices, simple.faces, visual=visual, process=False)
            out.add_geometry(mesh, node_name=str(node), geom_name=f"{geom_name}")
        lods.append(out)
    return lods
