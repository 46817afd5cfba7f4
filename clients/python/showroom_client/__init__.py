"""Python client of the showroom's edge node: plays VR head-pose traces over the live stream and walks 360
view sets like a kiosk. Imports only the wire protocol (`showroom_protocol`, shipped in this distribution)."""

from showroom_client.stream import StreamReport, play_vr
from showroom_client.traces import PoseSample, load_trace, resample, synthetic_motion

__all__ = ["PoseSample", "StreamReport", "load_trace", "play_vr", "resample", "synthetic_motion"]
