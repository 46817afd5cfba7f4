"""The default digital guide: a young woman in the bank's uniform, made by our own code (signed distance fields,
marching cubes, quadric decimation), skinned, with the 15 Oculus visemes and ARKit blinks as morph targets and the
clips idle / talk / welcome / point / walk. `build.ensure_guide(assets_dir)` writes `<assets>/guide/guide.glb`;
docs/guide.md, "The character". Nothing heavy is imported here."""
