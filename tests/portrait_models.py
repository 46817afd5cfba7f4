"""A small stand-in for the guide character, made in code for the portrait tests: the contract's joint names,
face morph targets and clip names on a body you can see through (a navy torso, a skin-coloured head sphere, a red
mouth bar the visemes open and two dark eyes the blinks close). Built by numpy/trimesh; every viseme opens the
mouth by a different amount so each one changes pixels, and nothing else on the face moves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import trimesh

from render_node.guide.visemes import VISEMES
from tests.render_models import write_glb
from tests.rig_models import GlbBuffer

HEAD_JOINT_M = (0.0, 1.52, 0.0)
HEAD_CENTRE_M = (0.0, 1.62, 0.0)
HEAD_RADIUS_M = 0.11
MOUTH_CENTRE_M = (0.0, 1.585, 0.1)
MOUTH_HALF_M = (0.028, 0.004, 0.008)
EYE_CENTRES_M = ((0.036, 1.645, 0.098), (-0.036, 1.645, 0.098))
"""Left (+X: the character faces +Z, so its left is +X), then right."""
EYE_HALF_M = (0.012, 0.009, 0.008)
TARGET_NAMES = (*(f"viseme_{v}" for v in VISEMES), "eyeBlinkLeft", "eyeBlinkRight")
JOINTS = ("Hips", "Spine", "Chest", "Neck", "Head", "LeftHand", "RightHand")
JOINT_WORLD_M = {"Hips": (0.0, 0.95, 0.0), "Spine": (0.0, 1.1, 0.0), "Chest": (0.0, 1.28, 0.0),
                 "Neck": (0.0, 1.45, 0.0), "Head": HEAD_JOINT_M, "LeftHand": (0.25, 0.9, 0.05),
                 "RightHand": (-0.25, 0.9, 0.05)}
PARENT = {"Spine": "Hips", "Chest": "Spine", "Neck": "Chest", "Head": "Neck", "LeftHand": "Chest",
          "RightHand": "Chest"}
CLIP_SECONDS = {"idle": 1.0, "talk": 0.5, "welcome": 0.25, "point": 0.25, "walk": 0.5}
"""Short clips: a test renders every frame of them (idle 8, talk 4, welcome and point 4 frames each)."""

F32 = npt.NDArray[np.float32]


def _box(centre: tuple[float, float, float], half: tuple[float, float, float]) -> trimesh.Trimesh:
    m: trimesh.Trimesh = trimesh.creation.box(extents=[2 * h for h in half])
    m.apply_translation(centre)
    return m


def _collapse(mesh: trimesh.Trimesh, centre_y: float, amount: float) -> F32:
    """Deltas that move the vertices above `centre_y` down and those below it up, by `amount` each."""
    v = np.asarray(mesh.vertices)
    d = np.zeros_like(v)
    d[:, 1] = np.where(v[:, 1] > centre_y, -amount, amount)
    return d.astype(np.float32)


def guide_stand_in(path: Path, *, visemes: bool = True, clip_seconds: dict[str, float] | None = None) -> Path:
    """Writes the stand-in GLB at `path`; `visemes=False` gives a character whose viseme targets move nothing
    (the portrait must refuse it)."""
    clips = CLIP_SECONDS if clip_seconds is None else clip_seconds
    buf = GlbBuffer()
    torso = trimesh.creation.cylinder(radius=0.17, height=0.55, sections=32)
    torso.apply_transform(np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float))  # +Z -> +Y
    torso.apply_translation([0.0, 1.18, 0.0])
    legs = trimesh.creation.cylinder(radius=0.12, height=0.9, sections=24)
    legs.apply_transform(np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float))
    legs.apply_translation([0.0, 0.45, 0.0])  # feet on y = 0, like the real character
    head = trimesh.creation.icosphere(subdivisions=3, radius=HEAD_RADIUS_M)
    head.apply_translation(HEAD_CENTRE_M)
    mouth = _box(MOUTH_CENTRE_M, MOUTH_HALF_M)
    eyes = [_box(c, EYE_HALF_M) for c in EYE_CENTRES_M]

    joint_index = {name: i for i, name in enumerate(JOINTS)}

    def primitive(mesh: trimesh.Trimesh, joint: str, material: int,
                  targets: list[F32] | None = None) -> dict[str, Any]:
        n = len(mesh.vertices)
        attrs = {"POSITION": buf.vec3(mesh.vertices), "NORMAL": buf.vec3(mesh.vertex_normals),
                 "JOINTS_0": buf.add(np.tile(np.array([joint_index[joint], 0, 0, 0], np.uint8), (n, 1)),
                                     "VEC4", 5121),
                 "WEIGHTS_0": buf.add(np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)), "VEC4", 5126)}
        out: dict[str, Any] = {"attributes": attrs, "material": material,
                               "indices": buf.add(np.asarray(mesh.faces, np.uint32).ravel(), "SCALAR", 5125)}
        if targets is not None:
            out["targets"] = [{"POSITION": buf.vec3(t)} for t in targets]
        return out

    zero = [np.zeros((len(head.vertices), 3), np.float32) for _ in TARGET_NAMES]
    mouth_targets = [np.zeros((len(mouth.vertices), 3), np.float32) for _ in TARGET_NAMES]
    if visemes:
        for i in range(len(VISEMES)):  # each viseme opens the mouth by its own amount (never none)
            mouth_targets[i] = -_collapse(mouth, MOUTH_CENTRE_M[1], 0.002 + 0.0012 * i)
    eye_targets = []
    for k, eye in enumerate(eyes):
        deltas = [np.zeros((len(eye.vertices), 3), np.float32) for _ in TARGET_NAMES]
        deltas[len(VISEMES) + k] = _collapse(eye, EYE_CENTRES_M[k][1], EYE_HALF_M[1] * 0.98)
        eye_targets.append(deltas)
    face = {"name": "face", "extras": {"targetNames": list(TARGET_NAMES)},
            "primitives": [primitive(head, "Head", 1, zero), primitive(mouth, "Head", 2, mouth_targets),
                           primitive(eyes[0], "Head", 3, eye_targets[0]),
                           primitive(eyes[1], "Head", 3, eye_targets[1])]}
    body = {"name": "body", "primitives": [primitive(torso, "Chest", 0), primitive(legs, "Hips", 0)]}

    nodes: list[dict[str, Any]] = [{"name": "body", "mesh": 0, "skin": 0}, {"name": "face", "mesh": 1, "skin": 0}]
    first_joint = len(nodes)
    for name in JOINTS:
        world = np.array(JOINT_WORLD_M[name])
        parent = PARENT.get(name)
        local = world - np.array(JOINT_WORLD_M[parent]) if parent else world
        nodes.append({"name": name, "translation": local.tolist(), "children": []})
    for name, parent in PARENT.items():
        nodes[first_joint + joint_index[parent]]["children"].append(first_joint + joint_index[name])
    for node in nodes:
        if node.get("children") == []:
            del node["children"]
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(JOINTS), 1, 1))
    for i, name in enumerate(JOINTS):
        ibm[i, :3, 3] = -np.array(JOINT_WORLD_M[name])
    i_ibm = buf.add(ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4", 5126)

    animations = []
    for clip, seconds in clips.items():
        t = np.array([0.0, seconds / 2, seconds], np.float32)
        i_t = buf.add(t, "SCALAR", 5126, min=[0.0], max=[seconds])
        if clip == "idle":  # the head turns a little and comes back
            a = math.radians(6.0) / 2
            rot = np.array([[0, 0, 0, 1], [0, math.sin(a), 0, math.cos(a)], [0, 0, 0, 1]], np.float32)
            i_o = buf.add(rot, "VEC4", 5126)
            target = {"node": first_joint + joint_index["Head"], "path": "rotation"}
        else:  # a hand moves; the head stays where it is in talk at t=0
            hand = "RightHand" if clip == "point" else "LeftHand"
            base = np.array(JOINT_WORLD_M[hand]) - np.array(JOINT_WORLD_M["Chest"])
            moves = np.array([base, base + np.array([0.0, 0.1, 0.0]), base], np.float32)
            i_o = buf.add(moves, "VEC3", 5126)
            target = {"node": first_joint + joint_index[hand], "path": "translation"}
        animations.append({"name": clip, "samplers": [{"input": i_t, "output": i_o}],
                           "channels": [{"sampler": 0, "target": target}]})

    materials = [
        {"name": "jacket", "pbrMetallicRoughness": {"baseColorFactor": [0.05, 0.07, 0.2, 1], "metallicFactor": 0,
                                                    "roughnessFactor": 0.8}},
        {"name": "skin", "pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.55, 0.45, 1], "metallicFactor": 0,
                                                  "roughnessFactor": 0.6}},
        {"name": "lips", "pbrMetallicRoughness": {"baseColorFactor": [0.6, 0.05, 0.08, 1], "metallicFactor": 0,
                                                  "roughnessFactor": 0.5}},
        {"name": "eyes", "pbrMetallicRoughness": {"baseColorFactor": [0.02, 0.02, 0.03, 1], "metallicFactor": 0,
                                                  "roughnessFactor": 0.3}},
    ]
    doc = buf.doc(scene=0, scenes=[{"nodes": [0, 1, first_joint]}], nodes=nodes, meshes=[body, face],
                  skins=[{"joints": list(range(first_joint, first_joint + len(JOINTS))), "inverseBindMatrices": i_ibm,
                          "skeleton": first_joint}],
                  materials=materials, animations=animations)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_glb(path, doc, buf.data)
