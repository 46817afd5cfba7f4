"""Benchmark of the guide's speech out (render_node/guide/): the real-time factor of espeak-ng synthesis (time to
synthesise / audio duration; under 1 is faster than it speaks) for English and Mandarin sentences, and the
audio-to-lips offset: when the track closes the lips (PP at full weight) minus when the bilabial's sound starts,
measured from the waveform exactly as tests/integration/test_guide_lipsync.py does.

    .venv/bin/python -m bench.guide_speech          # writes bench/results/guide_speech.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench._machine import machine
from render_node.guide.speech import Espeak, Lang
from render_node.guide.visemes import track
from tests.integration.test_guide_lipsync import BILABIAL_WORDS, FRAME_MS, lip_offsets

SENTENCES: tuple[tuple[Lang, str], ...] = (
    ("en", "Welcome to the bank's virtual showroom."),
    ("en", "This one hundred gram gold bar costs fifty-eight thousand yuan, and you can pay in twelve months."),
    ("en", "Would you like to speak with an advisor about a loan, or see the panda coins?"),
    ("zh", "欢迎来到银行的虚拟展厅。"),
    ("zh", "这根一百克的金条售价五万八千元，可以分十二期付款。"),
    ("zh", "您想咨询贷款，还是看看熊猫金币？"),
)
EXTRA_BILABIAL_WORDS: tuple[tuple[Lang, str], ...] = (("en", "mom"), ("en", "bib"), ("en", "pub"),
                                                      ("zh", "爸妈"), ("zh", "妈妈爸爸"))
OUT = Path(__file__).resolve().parent / "results" / "guide_speech.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    espeak = Espeak()
    espeak.synthesize("warm up", "en")
    espeak.synthesize("预热", "zh")
    rows = ["| lang | sentence | audio (ms) | synthesis (ms, median) | RTF |", "| --- | --- | ---: | ---: | ---: |"]
    for lang, text in SENTENCES:
        spent = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            speech = espeak.synthesize(text, lang)
            track(speech.phonemes, lang, speech.duration_ms)
            spent.append((time.perf_counter() - t0) * 1000)
        took = statistics.median(spent)
        rows.append(f"| {lang} | {text} | {speech.duration_ms:.0f} | {took:.1f} | {took / speech.duration_ms:.4f} |")
    offsets: list[tuple[str, float]] = []
    for lang, word in (*BILABIAL_WORDS, *EXTRA_BILABIAL_WORDS):
        offsets.extend((word, offset) for offset in lip_offsets(espeak.synthesize(word, lang)))
    values = [o for _w, o in offsets]
    lines = [
        "# Guide speech: synthesis speed and lip sync", "",
        f"Machine: {machine()}. Engine: libespeak-ng {espeak.sample_rate} Hz (en-us, cmn-latn-pinyin), "
        f"through ctypes, one thread. `.venv/bin/python -m bench.guide_speech` ({args.repeats} runs a sentence; "
        "synthesis includes building the viseme track).", "",
        "## Real-time factor (synthesis time / audio duration)", "", *rows, "",
        "## Audio-to-lips offset", "",
        "Lips closed (the track's PP at full weight) minus the bilabial's sound onset measured from the waveform "
        "(first sound after silence, or the 15 dB fall of the 1-5 kHz band into the closure); negative is lips "
        f"first. {len(values)} bilabials in {len(BILABIAL_WORDS) + len(EXTRA_BILABIAL_WORDS)} words; one frame "
        f"is {FRAME_MS:.1f} ms.", "",
        f"- mean {statistics.mean(values):+.1f} ms, mean absolute {statistics.mean(abs(v) for v in values):.1f} ms, "
        f"max absolute {max(abs(v) for v in values):.1f} ms", "",
        "| word | offsets (ms) |", "| --- | --- |",
        *(f"| {word} | {', '.join(f'{o:+.1f}' for w, o in offsets if w == word)} |"
          for word in dict.fromkeys(w for w, _o in offsets)),
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
