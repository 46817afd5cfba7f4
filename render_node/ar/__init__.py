"""AR placement: a printed marker board and the camera pose it gives, light matched to the camera frame, and
compositing of a rendered product over the frame with a soft contact shadow. Synchronous numpy + OpenCV; no HTTP.

World convention (the renderer's, see render_node/render): +Y up out of the counter, metres; with a marker board
the world origin is the centre of the printed board and +Z points to the board's bottom edge (towards the
customer who reads the caption). A product is placed standing on the board's centre, front towards +Z.
"""
