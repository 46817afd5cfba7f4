"""Dual recording (双录) of an advisor call: each leg's audio and video as they pass the relay, written to one WebM
per leg (VP8 + Opus) in a private work folder (0700), sealed with AES-256-GCM when the recording stops, the
plaintext deleted at once. Stored as `<data dir>/recordings/<id>/<leg>.webm.enc` beside `recording.json` (call,
product, advisor, times, the sha256 of each plaintext and each sealed file). Older than the retention, a recording
is deleted (`sweep`, at node start and daily).

A sealed file is `MAGIC + nonce (12 bytes) + ciphertext + tag (16 bytes)`; the associated data is `<id>/<leg>`, so
a file moved to another recording or leg does not open. `open_sealed` refuses (RecordingTampered) anything whose
tag does not verify. Encoding runs in one thread per leg (`LegWriter`), sealing in an executor: never on the loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.container import OutputContainer
from av.frame import Frame
from av.video.frame import VideoFrame
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

MAGIC = b"SHOWROOM-REC1\n"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
CHUNK_BYTES = 1 << 20
RECORDING_ID = re.compile(r"rec_[0-9a-f]{16}")
LEGS = ("customer", "advisor")
AUDIO_RATE = 48_000
MAX_QUEUED_VIDEO = 30
"""Video frames waiting for the encoder; past it new ones are dropped (a slow encoder never piles frames up)."""
MAX_QUEUED_AUDIO = 500
WAIT_FOR_VIDEO_FRAMES = 250
"""Audio frames (20 ms each) kept while a leg's first video frame is awaited (its size sets the stream's)."""
DEFAULT_SIZE_PX = (640, 480)


class RecordingError(Exception):
    """A recording that cannot be read (unknown, tampered, or its key is wrong)."""


class RecordingTampered(RecordingError):
    """The sealed file's tag does not verify: changed, truncated, moved, or sealed with another key."""


def new_recording_id() -> str:
    return f"rec_{secrets.token_hex(8)}"


def _aad(recording_id: str, leg: str) -> bytes:
    return f"{recording_id}/{leg}".encode("ascii")


def seal(key: bytes, plain: Path, sealed: Path, recording_id: str, leg: str) -> tuple[str, str, int]:
    """Encrypts `plain` into `sealed` (AES-256-GCM, streamed); (sha256 of the plaintext, sha256 of the sealed
    file, its size in bytes)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the recording key must be {KEY_BYTES} bytes")
    nonce = os.urandom(NONCE_BYTES)
    enc = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_aad(recording_id, leg))
    plain_hash, sealed_hash = hashlib.sha256(), hashlib.sha256()
    size = 0
    tmp = sealed.with_name(sealed.name + ".part")
    with plain.open("rb") as src, tmp.open("wb") as dst:
        def out(data: bytes) -> None:
            nonlocal size
            sealed_hash.update(data)
            dst.write(data)
            size += len(data)

        out(MAGIC + nonce)
        while chunk := src.read(CHUNK_BYTES):
            plain_hash.update(chunk)
            out(enc.update(chunk))
        out(enc.finalize() + enc.tag)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, sealed)
    return plain_hash.hexdigest(), sealed_hash.hexdigest(), size


def open_sealed(key: bytes, sealed: Path, recording_id: str, leg: str) -> bytes:
    """The plaintext of a sealed file, decrypted in memory; RecordingTampered when it does not verify."""
    data = sealed.read_bytes()
    head = len(MAGIC) + NONCE_BYTES
    if len(data) < head + TAG_BYTES or not data.startswith(MAGIC):
        raise RecordingTampered(f"{sealed.name} is not a sealed recording")
    try:
        return AESGCM(key).decrypt(data[len(MAGIC):head], data[head:], _aad(recording_id, leg))
    except InvalidTag:
        raise RecordingTampered(f"{sealed.name} does not verify: changed, moved or sealed with another key") from None


def private_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


class LegWriter:
    """One leg's WebM (VP8 + Opus), written by a thread of its own from the frames `put` hands in (from the event
    loop; a full queue drops the frame). `kinds` are the tracks the leg sends; `close()` (blocking) flushes."""

    def __init__(self, path: Path, kinds: set[str]) -> None:
        self.path = path
        self.kinds = set(kinds)
        self.video_frames = 0
        self.audio_frames = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, Frame, float] | None] = queue.Queue()
        self._video_queued = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"record-{path.stem}", daemon=True)
        self._thread.start()

    def put(self, kind: str, frame: Frame, t_s: float) -> None:
        """`frame` arrived `t_s` seconds after the recording started."""
        if kind not in self.kinds:
            return
        with self._lock:
            if kind == "video":
                if self._video_queued >= MAX_QUEUED_VIDEO:
                    self.dropped += 1
                    return
                self._video_queued += 1
            elif self._queue.qsize() >= MAX_QUEUED_AUDIO:
                self.dropped += 1
                return
        self._queue.put((kind, frame, t_s))

    def close(self) -> None:
        """Ends the file (blocking: run it in an executor)."""
        self._queue.put(None)
        self._thread.join()

    @property
    def written(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def _run(self) -> None:
        try:
            _Muxer(self).run()
        except Exception:
            log.exception("recording %s failed", self.path)

    def _next(self) -> tuple[str, Frame, float] | None:
        item = self._queue.get()
        if item is not None and item[0] == "video":
            with self._lock:
                self._video_queued -= 1
        return item


@dataclass
class _Muxer:
    leg: LegWriter
    container: OutputContainer | None = None
    streams: dict[str, Any] = field(default_factory=dict)
    waiting_audio: list[tuple[Frame, float]] = field(default_factory=list)
    last_video_ms: int = -1
    next_audio: int = 0

    def run(self) -> None:
        leg = self.leg
        try:
            while (item := leg._next()) is not None:
                kind, frame, t_s = item
                if self.container is None:
                    if kind == "video" or "video" not in leg.kinds:
                        self._open(frame if kind == "video" else None)
                    else:
                        self.waiting_audio.append((frame, t_s))
                        if len(self.waiting_audio) >= WAIT_FOR_VIDEO_FRAMES:
                            self._open(None)
                        continue
                self._write(kind, frame, t_s)
            if self.container is None and self.waiting_audio:
                self._open(None)
        finally:
            if self.container is not None:
                for stream in self.streams.values():
                    with contextlib.suppress(Exception):
                        for packet in stream.encode(None):
                            self.container.mux(packet)
                self.container.close()

    def _open(self, first_video: Frame | None) -> None:
        leg = self.leg
        container = av.open(str(leg.path), "w", format="webm")
        if "video" in leg.kinds:
            width, height = DEFAULT_SIZE_PX
            if isinstance(first_video, VideoFrame):
                width, height = first_video.width - first_video.width % 2, first_video.height - first_video.height % 2
            video = container.add_stream("libvpx", rate=30)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.time_base = Fraction(1, 1000)
            video.bit_rate = 800_000
            video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            self.streams["video"] = video
        if "audio" in leg.kinds:
            audio = container.add_stream("libopus", rate=AUDIO_RATE)
            audio.layout = "stereo"
            self.streams["audio"] = audio
        self.container = container
        waiting, self.waiting_audio = self.waiting_audio, []
        for frame, t_s in waiting:
            self._write("audio", frame, t_s)

    def _write(self, kind: str, frame: Frame, t_s: float) -> None:
        stream = self.streams.get(kind)
        if stream is None or self.container is None:
            return
        if isinstance(frame, VideoFrame):
            # a copy of the shared frame (the other leg's encoder reads it too), at the stream's size
            own = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
            if own is frame:
                own = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
            pts_ms = max(int(t_s * 1000), self.last_video_ms + 1)
            self.last_video_ms = pts_ms
            own.pts, own.time_base = pts_ms, Fraction(1, 1000)
            self.leg.video_frames += 1
        elif isinstance(frame, AudioFrame):
            own_audio = AudioFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name,
                                                layout=frame.layout.name)
            own_audio.sample_rate = frame.sample_rate
            start = max(int(t_s * frame.sample_rate), self.next_audio)
            self.next_audio = start + frame.samples
            own_audio.pts, own_audio.time_base = start, Fraction(1, frame.sample_rate)
            own = own_audio  # type: ignore[assignment]
            self.leg.audio_frames += 1
        else:
            return
        for packet in stream.encode(own):
            self.container.mux(packet)


# -- the store ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    leg: str
    sha256: str
    plain_sha256: str
    bytes: int


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RecordingStore:
    """`<data dir>/recordings`: sealed recordings (one folder each) and the private work folder of those under way."""

    def __init__(self, root: Path, key: bytes, retention_days: int) -> None:
        if len(key) not in (0, KEY_BYTES):
            raise ValueError(f"the recording key must be {KEY_BYTES} bytes")
        self.root = root
        self.key = key
        self.retention = timedelta(days=retention_days)

    @property
    def available(self) -> bool:
        """False without a key: the node records nothing (and refuses to sell dual-recording products)."""
        return len(self.key) == KEY_BYTES

    @property
    def work(self) -> Path:
        return self.root / ".work"

    def start(self, recording_id: str) -> Path:
        """A private (0700) work folder for a new recording's plaintext."""
        private_folder(self.root)
        return private_folder(self.work / recording_id)

    def discard_work(self) -> int:
        """At node start: plaintext left by a node that stopped mid-recording is deleted (never kept unsealed)."""
        count = 0
        if self.work.is_dir():
            for folder in self.work.iterdir():
                shutil.rmtree(folder, ignore_errors=True)
                count += 1
        return count

    def finish(self, recording_id: str, meta: dict[str, Any], writers: Mapping[str, LegWriter]) -> dict[str, Any]:
        """Seals every leg's file (blocking), deletes the plaintext, writes `recording.json`; the document."""
        work = self.work / recording_id
        folder = private_folder(self.root / recording_id)
        sealed: list[Sealed] = []
        try:
            for leg, writer in writers.items():
                if not writer.written:
                    continue
                plain_sha, sealed_sha, size = seal(self.key, writer.path, folder / f"{leg}.webm.enc",
                                                   recording_id, leg)
                writer.path.unlink()
                sealed.append(Sealed(leg, sealed_sha, plain_sha, size))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        doc = {**meta, "id": recording_id,
               "legs": {s.leg: {"sha256": s.sha256, "plain_sha256": s.plain_sha256, "bytes": s.bytes}
                        for s in sealed}}
        tmp = folder / "recording.json.part"
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, folder / "recording.json")
        return doc

    def _folders(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and RECORDING_ID.fullmatch(folder.name):
                yield folder

    def get(self, recording_id: str) -> dict[str, Any]:
        if not RECORDING_ID.fullmatch(recording_id):
            raise RecordingError(f"no recording {recording_id!r}")
        path = self.root / recording_id / "recording.json"
        try:
            doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise RecordingError(f"no recording {recording_id!r}") from None
        return doc

    def recordings(self) -> list[dict[str, Any]]:
        """Every stored recording, latest first."""
        found = []
        for folder in self._folders():
            with contextlib.suppress(RecordingError):
                found.append(self.get(folder.name))
        return sorted(found, key=lambda d: str(d.get("started_at", "")), reverse=True)

    def read(self, recording_id: str, leg: str) -> bytes:
        """A leg's WebM, decrypted in memory (blocking); RecordingError when unknown, RecordingTampered."""
        doc = self.get(recording_id)
        if leg not in doc.get("legs", {}):
            raise RecordingError(f"recording {recording_id} has no {leg} leg")
        return open_sealed(self.key, self.root / recording_id / f"{leg}.webm.enc", recording_id, leg)

    def sweep(self, now: datetime) -> list[str]:
        """Deletes recordings that ended more than the retention ago (by `ended_at`; a folder without a readable
        document by its modification time); the ids deleted."""
        cutoff = now - self.retention
        gone = []
        for folder in self._folders():
            try:
                ended = datetime.fromisoformat(self.get(folder.name)["ended_at"].replace("Z", "+00:00"))
            except (RecordingError, KeyError, ValueError, AttributeError):
                ended = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
            if ended < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
        if gone:
            log.info("recordings past %d days of retention deleted: %s", self.retention.days, ", ".join(gone))
        return gone
