"""Errors of AR placement and try-on: what the camera frame did not show, or what the request got wrong."""

from __future__ import annotations

from render_node.errors import BadRequest, NodeError, PayloadTooLarge


class MarkerNotFound(NodeError):
    """No marker board (or too little of it) in the frame, and no camera pose was sent."""

    code = "marker_not_found"
    http_status = 422


class NothingToAnchor(NodeError):
    """The photo shows no face / hand / wrist to place the product on; nothing is placed at random."""

    code = "anchor_not_found"
    http_status = 422


class ConsentRequired(NodeError):
    """Try-on processes a face or hand image (sensitive personal data under PIPL): consent must be explicit."""

    code = "consent_required"
    http_status = 403


class ImageInvalid(BadRequest):
    """The uploaded frame is not a decodable JPEG/PNG image."""

    code = "image_invalid"


class ImageTooLarge(PayloadTooLarge):
    """The frame has more bytes or pixels than the node accepts."""

    code = "image_too_large"


class NotWearable(NodeError):
    """The product (or the anchor asked for) cannot be worn that way, e.g. a gold bar on a finger."""

    code = "not_wearable"
    http_status = 422
