"""The edge render node: pixels and streams."""
