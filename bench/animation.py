"""Animation benchmark: what a skinned pose costs per frame here, on the CPU (numpy) and in a vertex shader.

    .venv/bin/python bench/animation.py [--frames 40] [--out bench/results]

A tube of 10k or 50k vertices on a chain of 16 joints, every vertex weighted to its 4 nearest joints, its normals
skinned too; the chain waves (a new pose every frame). Measured:
- numpy: `skinning.joint_matrices` + `skin_vertices` (what `render_node/render/posing.py` does per pose), and
  the same with 2 morph targets applied first;
- frames at 640x480 in one offscreen panda3d buffer (p3headlessgl; llvmpipe without a GPU), one lambert shader:
  `static` (the pose never changes: the floor), `cpu` (numpy skinning + writing the vertex and normal arrays
  into the GeomVertexData, as the renderer does) and `gpu` (the joint matrices as a uniform array, skinning in
  the vertex shader; joints and weights as vertex columns).
Median milliseconds per frame (render + read-back). Writes `animation.md` into --out.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402
from render_node.render.morph import MorphTarget, morph  # noqa: E402
from render_node.render.skinning import Skin, joint_matrices, skin_vertices  # noqa: E402

JOINTS = 16
F32 = npt.NDArray[np.float32]

_VS = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
#ifdef GPU_SKIN
uniform mat4 u_joints[JOINT_COUNT];
in vec4 a_joints;
in vec4 a_weights;
#endif
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec3 v_n;
void main() {
#ifdef GPU_SKIN
  mat4 m = a_weights.x * u_joints[int(a_joints.x)] + a_weights.y * u_joints[int(a_joints.y)]
         + a_weights.z * u_joints[int(a_joints.z)] + a_weights.w * u_joints[int(a_joints.w)];
  gl_Position = p3d_ModelViewProjectionMatrix * (m * p3d_Vertex);
  v_n = mat3(m) * p3d_Normal;
#else
  gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
  v_n = p3d_Normal;
#endif
}
""".replace("JOINT_COUNT", str(JOINTS))
_FS = """#version 330
in vec3 v_n;
out vec4 o_color;
void main() {
  float d = max(dot(normalize(v_n), normalize(vec3(0.3, 0.5, 1.0))), 0.0);
  o_color = vec4(vec3(0.15 + 0.85 * d), 1.0);
}
"""




def tube(vertices: int) -> tuple[F32, F32, npt.NDArray[np.uint32], npt.NDArray[np.uint16], F32]:
    """(positions, normals, indices, joints, weights) of a 2 m tube along +Y with about `vertices` vertices."""
    segments = 64
    rings = max(2, vertices // segments)
    y = np.linspace(0.0, 2.0, rings)
    a = np.arange(segments) * 2 * math.pi / segments
    yy, aa = np.meshgrid(y, a, indexing="ij")
    pos = np.stack([0.1 * np.sin(aa), yy, 0.1 * np.cos(aa)], -1).reshape(-1, 3).astype(np.float32)
    nrm = np.stack([np.sin(aa), np.zeros_like(aa), np.cos(aa)], -1).reshape(-1, 3).astype(np.float32)
    r, k = np.meshgrid(np.arange(rings - 1), np.arange(segments), indexing="ij")
    i0 = (r * segments + k).ravel()
    i1 = (r * segments + (k + 1) % segments).ravel()
    idx = np.stack([i0, i1, i0 + segments, i1, i1 + segments, i0 + segments], -1).reshape(-1).astype(np.uint32)
    joint_y = np.linspace(0.0, 2.0, JOINTS)
    dist = np.abs(pos[:, 1:2] - joint_y[None, :])
    near = np.argsort(dist, axis=1)[:, :4]
    w = 1.0 / (np.take_along_axis(dist, near, axis=1) + 0.05)
    w /= w.sum(axis=1, keepdims=True)
    return pos, nrm, idx, near.astype(np.uint16), w.astype(np.float32)


def chain(t: float) -> tuple[Skin, dict[int, npt.NDArray[np.float64]]]:
    """The 16-joint chain bent by a wave at time t: (skin, world matrices)."""
    step = 2.0 / (JOINTS - 1)
    ibm = np.tile(np.eye(4), (JOINTS, 1, 1))
    ibm[:, 1, 3] = -np.arange(JOINTS) * step
    world: dict[int, npt.NDArray[np.float64]] = {}
    parent = np.eye(4)
    for j in range(JOINTS):
        angle = 0.15 * math.sin(t * 3 + j * 0.5)
        c, s = math.cos(angle), math.sin(angle)
        local = np.array([[c, -s, 0, 0], [s, c, 0, step if j else 0.0], [0, 0, 1, 0], [0, 0, 0, 1]])
        parent = parent @ local
        world[j] = parent
    return Skin(joints=tuple(range(JOINTS)), inverse_bind=ibm), world


def bench_numpy(vertices: int, frames: int) -> dict[str, float]:
    pos, nrm, _, joints, weights = tube(vertices)
    targets = (MorphTarget(positions=pos * 0.1, normals=None), MorphTarget(positions=np.roll(pos, 1, 0) * 0.05))
    times: dict[str, list[float]] = {"skin": [], "morph + skin": []}
    for f in range(frames):
        for label in times:
            t0 = time.perf_counter()
            p, n = pos, nrm
            if label == "morph + skin":
                p, n_opt, _ = morph(p, n, None, targets, (0.3, 0.6))
                n = n_opt if n_opt is not None else n
            skin, world = chain(f / 30)
            skin_vertices(p, n, None, joints, weights, joint_matrices(skin, world, np.eye(4)))
            times[label].append((time.perf_counter() - t0) * 1000)
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"{k} min": min(v) for k, v in times.items()})
    return out


def bench_frames(vertices: int, frames: int) -> dict[str, float]:
    import panda3d.core as p3d

    from render_node.render._pipe import headless_pipe

    pos, nrm, idx, joints, weights = tube(vertices)
    engine = p3d.GraphicsEngine.get_global_ptr()
    fb = p3d.FrameBufferProperties()
    fb.set_rgba_bits(8, 8, 8, 8)
    fb.set_depth_bits(24)
    buf = engine.make_output(headless_pipe(), "bench", 0, fb, p3d.WindowProperties.size(640, 480),
                             p3d.GraphicsPipe.BF_refuse_window)
    tex = p3d.Texture()
    buf.add_render_texture(tex, p3d.GraphicsOutput.RTM_copy_ram, p3d.GraphicsOutput.RTP_color)
    scene = p3d.NodePath("scene")
    cam = scene.attach_new_node(p3d.Camera("cam", p3d.PerspectiveLens()))
    cam.node().get_lens().set_fov(40)
    cam.set_pos(0, -6, 1)  # panda3d's Z-up camera space is irrelevant here: we only look at the tube
    cam.look_at(0, 0, 1)
    buf.make_display_region().set_camera(cam)

    fmt = p3d.GeomVertexFormat()
    for name, contents in (("vertex", p3d.GeomEnums.C_point), ("normal", p3d.GeomEnums.C_normal),
                           ("a_joints", p3d.GeomEnums.C_other), ("a_weights", p3d.GeomEnums.C_other)):
        arr = p3d.GeomVertexArrayFormat()
        arr.add_column(p3d.InternalName.make(name), 3 if name in ("vertex", "normal") else 4,
                       p3d.GeomEnums.NT_float32, contents)
        fmt.add_array(arr)
    registered = p3d.GeomVertexFormat.register_format(fmt)
    plain = p3d.Shader.make(p3d.Shader.SL_GLSL, _VS, _FS)
    skinned = p3d.Shader.make(p3d.Shader.SL_GLSL, _VS.replace("#version 330", "#version 330\n#define GPU_SKIN"), _FS)

    def tube_node(mode: str) -> tuple[p3d.NodePath, p3d.GeomNode]:
        """One tube per mode (its own vertex data), drawn alone in its turn."""
        vdata = p3d.GeomVertexData("tube", registered, p3d.GeomEnums.UH_dynamic)
        vdata.unclean_set_num_rows(len(pos))
        for i, data in enumerate((pos, nrm, joints.astype(np.float32), weights)):
            memoryview(vdata.modify_array(i)).cast("B")[:] = np.ascontiguousarray(data, np.float32).tobytes()
        tris = p3d.GeomTriangles(p3d.GeomEnums.UH_static)
        tris.set_index_type(p3d.GeomEnums.NT_uint32)
        handle = tris.modify_vertices()
        handle.unclean_set_num_rows(len(idx))
        memoryview(handle).cast("B")[:] = idx.tobytes()
        geom = p3d.Geom(vdata)
        geom.add_primitive(tris)
        node = p3d.GeomNode(f"tube-{mode}")
        node.add_geom(geom)
        path = p3d.NodePath(node)
        path.set_p(90)  # glTF's +Y up onto panda3d's +Z up
        node.set_bounds(p3d.OmniBoundingVolume())
        node.set_final(True)
        path.set_shader(skinned if mode == "gpu" else plain)
        return path, node

    def frame() -> npt.NDArray[np.uint8]:
        engine.render_frame()
        return np.frombuffer(memoryview(tex.get_ram_image()), np.uint8).copy()

    modes = ("static", "cpu", "gpu")
    tubes = {m: tube_node(m) for m in modes}
    times: dict[str, list[float]] = {m: [] for m in modes}
    last: dict[str, npt.NDArray[np.uint8]] = {}
    for f in range(frames + 3):  # interleaved: load from other processes hits every mode alike
        skin, world = chain(f / 30)
        for mode in modes:
            path, node = tubes[mode]
            path.reparent_to(scene)
            t0 = time.perf_counter()
            if mode == "cpu":
                p, n, _ = skin_vertices(pos, nrm, None, joints, weights, joint_matrices(skin, world, np.eye(4)))
                data = node.modify_geom(0).modify_vertex_data()
                memoryview(data.modify_array(0)).cast("B")[:] = p.tobytes()
                assert n is not None
                memoryview(data.modify_array(1)).cast("B")[:] = n.tobytes()
            elif mode == "gpu":
                pta = p3d.PTA_LMatrix4f()
                for m in joint_matrices(skin, world, np.eye(4)):
                    pta.push_back(p3d.LMatrix4f(*m.T.reshape(-1).tolist()))
                path.set_shader_input("u_joints", pta)
            last[mode] = frame()
            if f >= 3:  # the first frames compile shaders and upload
                times[mode].append((time.perf_counter() - t0) * 1000)
            path.detach_node()
    results = {m: statistics.median(times[m]) for m in modes}
    results.update({f"{m} min": min(times[m]) for m in modes})
    # the same last pose drawn both ways: the share of pixels that differ by more than 8 levels (edges only)
    def changed(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
        d = np.abs(a.astype(np.int16) - b.astype(np.int16)).reshape(-1, 4)[:, :3].max(axis=1)
        return float((d > 8).mean())

    results["cpu_vs_gpu_pixels"] = changed(last["cpu"], last["gpu"])
    results["moved_pixels"] = changed(last["cpu"], last["static"])
    engine.remove_window(buf)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    who = machine()
    rows = []
    for n in (10_000, 50_000):
        cpu = bench_numpy(n, args.frames)
        gl = bench_frames(n, args.frames)
        rows.append((n, cpu, gl))
        print(n, cpu, gl, flush=True)
    import panda3d.core as p3d

    from render_node.render._pipe import headless_pipe

    gsg_note = headless_pipe().get_interface_name()
    lines = [
        f"# Animation benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Machine: {who}; panda3d {p3d.PandaSystem.get_version_string()}, {gsg_note} (Mesa llvmpipe without a GPU).",
        "",
        f"A tube on a chain of {JOINTS} joints, 4 influences a vertex, normals skinned; a new pose every frame. "
        f"Median (minimum) of {args.frames} frames, milliseconds; the cases run interleaved, frame by frame, so load "
        "from other processes on the two cores hits them alike.",
        "",
        "| vertices | numpy skin | numpy morph (2 targets) + skin | frame: static pose | frame: CPU skinning "
        "(numpy + vertex upload) | frame: GPU skinning (vertex shader) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    def cell(d: dict[str, float], k: str) -> str:
        return f"{d[k]:.1f} ({d[k + ' min']:.1f})"

    for n, cpu, gl in rows:
        lines.append(f"| {n:,} | {cell(cpu, 'skin')} | {cell(cpu, 'morph + skin')} | {cell(gl, 'static')} | "
                     f"{cell(gl, 'cpu')} | {cell(gl, 'gpu')} |")
    lines += ["", "Frames: 640x480, one lambert shader, render + read-back of the colour buffer. The last pose drawn "
              "by the CPU and by the vertex shader differ in "
              + ", ".join(f"{gl['cpu_vs_gpu_pixels']:.2%} ({n:,})" for n, _, gl in rows)
              + " of the pixels (more than 8 levels), while that pose differs from the rest pose in "
              + ", ".join(f"{gl['moved_pixels']:.2%} ({n:,})" for n, _, gl in rows) + ": both draw the same bend."]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "animation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
