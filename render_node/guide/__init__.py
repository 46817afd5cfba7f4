"""The digital guide on the node (render_node/guide/): speech out with visemes (speech.py, visemes.py,
routes.py: POST /api/guide/speech) and intents over the bank's facts; docs/guide.md."""
