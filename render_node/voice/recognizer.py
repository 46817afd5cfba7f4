"""Offline recognition of the hall's spoken English commands: pocketsphinx with a closed grammar.

The acoustic model, the pronunciation dictionary and the decoder all come inside the `pocketsphinx` wheel
(`pocketsphinx/model/en-us`): serving needs no download and no other package. The decoder searches only the
sentences of `commands.jsgf()` (the spoken part of the grammar), so a command is recognised reliably and almost
anything else reaches no sentence's end and is answered "no command". Its hypothesis is read through the same
`commands.parse` as typed text.

One `Recognizer` holds one decoder and is not thread-safe: `VoiceWorkers` gives each of its threads its own,
built on the thread's first command (about 0.1 s), never at import. Only English: no package ships a Mandarin
acoustic model that works offline (docs/voice.md).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from render_node.voice.commands import Command, jsgf, parse
from render_node.voice.wav import MODEL_RATE_HZ

T = TypeVar("T")

PAD_S = 0.3
"""Silence put before and after the audio: a command cut tight at both ends still starts and ends in silence."""
DITHER = 3.0
"""Gaussian noise (int16 units) added to the audio: digital silence (exact zeros) has no spectrum to normalise."""
SILENCE_PEAK = 160.0
"""Audio whose loudest sample is below this (-46 dBFS) is silence: no command, nothing decoded."""


@dataclass(frozen=True)
class Recognition:
    """What was heard: `text` the grammar's sentence ("" when none), its `command`, and the CPU time spent."""

    text: str
    command: Command | None
    cpu_s: float


class Recognizer:
    """One pocketsphinx decoder over the hall's spoken grammar (not thread-safe: one per thread)."""

    def __init__(self) -> None:
        import pocketsphinx  # the model is in the package; loading it is the heavy part, so not at import

        self._decoder = pocketsphinx.Decoder(lm=None, samprate=MODEL_RATE_HZ, loglevel="FATAL", bestpath=False)
        self._decoder.add_jsgf_string("hall", jsgf())
        self._decoder.activate_search("hall")

    def recognise(self, audio: npt.NDArray[np.float32]) -> Recognition:
        """Recognises one utterance: `audio` (n,) float32 in int16 units at 16 kHz mono (`wav.to_16k_mono`)."""
        started = time.process_time()
        if audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK:
            return Recognition("", None, time.process_time() - started)
        pad = np.zeros(int(PAD_S * MODEL_RATE_HZ), np.float32)
        padded = np.concatenate([pad, audio, pad])
        padded += np.random.default_rng(0).normal(0.0, DITHER, padded.shape).astype(np.float32)
        pcm = np.clip(padded, -32768, 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        # a sound that reaches no sentence's end leaves a partial hypothesis, which parses to no command
        command = parse(text, "en") if text else None
        return Recognition(text if command is not None else "", command, time.process_time() - started)


class VoiceWorkers:
    """Threads for WAV decoding and recognition, each with its own `Recognizer` (made on first use)."""

    def __init__(self, threads: int = 2, factory: Callable[[], Recognizer] = Recognizer) -> None:
        self.threads = threads
        self._factory = factory
        self._local = threading.local()
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="voice")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args))

    def recognizer(self) -> Recognizer:
        """This thread's recogniser (call it from a worker thread)."""
        recognizer: Recognizer | None = getattr(self._local, "recognizer", None)
        if recognizer is None:
            recognizer = self._factory()
            self._local.recognizer = recognizer
        return recognizer

    def recognise(self, audio: npt.NDArray[np.float32]) -> Recognition:
        return self.recognizer().recognise(audio)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
