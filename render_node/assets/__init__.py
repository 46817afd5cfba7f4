"""The asset pipeline: procedural product models (trimesh), glTF import/validate/normalise, LODs (open3d), and the
mapping of catalog variants to material overrides.

Models follow the render conventions of `render_node.render`: metres, +Y up, front facing +Z, resting on Y = 0,
centred in X and Z. Material names are the contract with the renderer and `variants.overrides_for`:
"metal", "gem", "paint", "glass", "chrome", "tyre", "rubber", "light", "taillight", "interior", "trim".
Nothing heavy happens at import time.
"""
