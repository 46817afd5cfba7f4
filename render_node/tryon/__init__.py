"""Virtual try-on: find a face, hand or wrist in a photo or camera frame, fit a product to it at real size, hide
what the body covers, and composite. Synchronous (numpy, OpenCV, mediapipe); no HTTP, nothing written anywhere.

Landmarks come from mediapipe 0.10.21's face mesh (478 points with irises) and hand (21 points) models, which
ship inside the wheel and run offline; OpenCV's Haar cascade is the fallback for faces (no iris there, so sizes
are estimated from the face width and flagged as less accurate). See docs/ar.md for the accuracy measured.
"""
