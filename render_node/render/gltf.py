"""The renderer's view of a glTF file: the one reader (`render_node.gltf`) and the types it returns.

`read_gltf(path)` refuses exactly what `showroom assets validate` refuses, with the same message (a
`ModelInvalid` naming the file and the field); the scene builder turns the `GltfAsset` into panda3d nodes.
"""

from __future__ import annotations

from pathlib import Path

from render_node.gltf import (
    Camera,
    GltfAsset,
    Light,
    Material,
    Node,
    Primitive,
    TextureRef,
    node_matrix,
    read_model,
)

__all__ = ["Camera", "GltfAsset", "Light", "Material", "Node", "Primitive", "TextureRef", "node_matrix", "read_gltf"]


def read_gltf(path: Path) -> GltfAsset:
    """Reads a .glb or .gltf file for rendering. Raises `ModelInvalid` for anything broken or unsupported."""
    return read_model(path)
