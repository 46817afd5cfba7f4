"""Speech out with the real libespeak-ng: English and Mandarin give 16-bit mono audio, timed phonemes and words,
and a viseme track as long as the audio; every phoneme real text uses has a row in the viseme table; Mandarin
is read as Mandarin (not the tone digits in English, the `cmn` voice's fault); calls from many threads are
serialised and give the same speech."""

from __future__ import annotations

import asyncio
import io
import shutil
import wave
from concurrent.futures import ThreadPoolExecutor

import pytest

from render_node.guide.speech import Espeak, Lang, SpeechEngine, SpeechUnavailable
from render_node.guide.visemes import is_known, track

SENTENCES: tuple[tuple[Lang, str], ...] = (
    ("en", "Welcome to the bank's virtual showroom. This one hundred gram gold bar costs fifty-eight thousand yuan."),
    ("en", "Would you like to speak with an advisor about a loan, or see the panda coins?"),
    ("zh", "欢迎来到银行的虚拟展厅。这根金条重一百克，价格是五万八千元。"),
    ("zh", "您想咨询贷款，还是看看熊猫金币？我们的理财顾问随时为您服务。"),
)


@pytest.fixture(scope="module")
def espeak() -> Espeak:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")
    return Espeak()


@pytest.mark.parametrize(("lang", "text"), SENTENCES)
def test_english_and_mandarin_give_audio_and_a_viseme_track_as_long_as_the_audio(espeak: Espeak, lang: Lang,
                                                                                 text: str) -> None:
    speech = espeak.synthesize(text, lang)
    with wave.open(io.BytesIO(speech.wav())) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, speech.sample_rate)
        assert w.getnframes() * 1000 / w.getframerate() == pytest.approx(speech.duration_ms)
    assert speech.duration_ms > 2000
    keys = track(speech.phonemes, lang, speech.duration_ms)
    assert abs(keys[-1][0] - speech.duration_ms) <= 50
    assert {name for _t, name, _w in keys} >= {"sil", "PP", "aa", "ih"}
    starts = [p.start_ms for p in speech.phonemes]
    assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] <= speech.duration_ms
    assert len(speech.words) >= 8 and all(w.text.strip() for w in speech.words)


@pytest.mark.parametrize(("lang", "text"), SENTENCES)
def test_every_phoneme_real_text_uses_has_a_row_in_the_viseme_table(espeak: Espeak, lang: Lang, text: str) -> None:
    unknown = {p.name for p in espeak.synthesize(text, lang).phonemes if not is_known(p.name, lang)}
    assert unknown == set()


def test_mandarin_is_read_as_mandarin_not_as_english_tone_digits(espeak: Espeak) -> None:
    speech = espeak.synthesize("爸爸妈妈", "zh")
    assert [p.name for p in speech.phonemes if not p.name.startswith("_")] == ["p", "A", "p", "A", "m", "A", "m", "A"]
    assert [w.text for w in speech.words] == ["爸", "爸", "妈", "妈"]


def test_calls_from_many_threads_are_serialised_and_give_the_same_speech(espeak: Espeak) -> None:
    alone = espeak.synthesize("gold bar", "en")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: espeak.synthesize("gold bar" if i % 2 else "金条", "en" if i % 2 else "zh"),
                                range(8)))
    for speech in results[1::2]:
        assert [p.name for p in speech.phonemes] == [p.name for p in alone.phonemes]
        assert abs(speech.duration_ms - alone.duration_ms) < 5


def test_the_engine_runs_off_the_event_loop_and_says_when_the_library_is_missing() -> None:
    async def run() -> None:
        engine = SpeechEngine(library="libespeak-ng-not-installed.so")
        try:
            with pytest.raises(SpeechUnavailable):
                await engine.synthesize("hello", "en")
        finally:
            engine.close()

    asyncio.run(run())


def test_two_engines_in_one_process_each_get_their_own_speech(espeak: Espeak) -> None:
    other = Espeak()
    first, second = espeak.synthesize("bob", "en"), other.synthesize("爸爸", "zh")
    again = espeak.synthesize("bob", "en")
    assert [p.name for p in first.phonemes] == [p.name for p in again.phonemes]
    assert first.pcm and second.pcm and "A" in [p.name for p in second.phonemes]
