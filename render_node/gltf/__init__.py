"""The one glTF 2.0 reader of the node: validation is this reader refusing, with the field named.

`read_model(path)` returns a `GltfAsset` (numpy arrays, materials, nodes, cameras) or raises
`render_node.render.errors.ModelInvalid`. `showroom assets validate|import` and the renderer both call it, so
a file that validates is a file that renders. Plain Python + numpy (+ pygltflib's constants); no GL, no HTTP.
See docs/rendering.md for the rules.
"""

from render_node.gltf.document import MAX_ELEMENTS, MAX_FILE_BYTES, MAX_TOTAL_BYTES, Document
from render_node.gltf.model import (
    Camera,
    GltfAsset,
    Light,
    Material,
    Node,
    Primitive,
    TextureRef,
    node_matrix,
    read_model,
    read_model_bytes,
)

__all__ = [
    "MAX_ELEMENTS",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "Camera",
    "Document",
    "GltfAsset",
    "Light",
    "Material",
    "Node",
    "Primitive",
    "TextureRef",
    "node_matrix",
    "read_model",
    "read_model_bytes",
]
