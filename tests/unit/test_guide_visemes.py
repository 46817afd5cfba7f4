"""The viseme table and track: espeak-ng phoneme mnemonics (English, Mandarin pinyin voice) map to the 15
Oculus visemes, and a track cross-fades neighbours while reaching each shape at its phoneme's first sample."""

from __future__ import annotations

import pytest

from render_node.guide.speech import LanguageUnsupported, Phoneme, TextInvalid, clean_text
from render_node.guide.visemes import (
    ENGLISH,
    FADE_MS,
    MANDARIN,
    VISEMES,
    segments,
    shape_of,
    track,
    weights_at,
)


def test_there_are_the_fifteen_oculus_visemes_and_every_table_entry_is_one_of_them() -> None:
    assert len(VISEMES) == 15 and VISEMES[0] == "sil"
    for table in (ENGLISH, MANDARIN):
        for shape in table.values():
            assert shape and all(name in VISEMES and 0 < weight <= 1 for name, weight in shape)


@pytest.mark.parametrize(("lang", "phoneme", "viseme"), [
    ("en", "p", "PP"), ("en", "b", "PP"), ("en", "m", "PP"), ("en", "f", "FF"), ("en", "T", "TH"),
    ("en", "D", "TH"), ("en", "t", "DD"), ("en", "k", "kk"), ("en", "tS", "CH"), ("en", "s", "SS"),
    ("en", "n", "nn"), ("en", "r", "RR"), ("en", "A:", "aa"), ("en", "E", "E"), ("en", "i:", "ih"),
    ("en", "O:", "oh"), ("en", "u:", "ou"), ("zh", "p", "PP"), ("zh", "ph", "PP"), ("zh", "m", "PP"),
    ("zh", "f", "FF"), ("zh", "th", "DD"), ("zh", "kh", "kk"), ("zh", "tS;", "CH"), ("zh", "ts.h", "CH"),
    ("zh", "s", "SS"), ("zh", "l", "nn"), ("zh", "z.", "RR"), ("zh", "A", "aa"), ("zh", "i", "ih"),
    ("zh", "y", "ou"), ("zh", "o", "oh"),
])
def test_each_phoneme_class_maps_to_its_viseme(lang: str, phoneme: str, viseme: str) -> None:
    assert shape_of(phoneme, lang)[0][0] == viseme


def test_pauses_are_silence_and_stress_marks_and_trailing_digits_are_ignored() -> None:
    assert shape_of("_:", "en") == shape_of("_|", "zh") == (("sil", 1.0),)
    assert shape_of("'A:", "en") == shape_of("A:", "en")
    assert shape_of("A51", "zh") == shape_of("A", "zh")


def test_a_diphthong_is_two_visemes_splitting_its_time() -> None:
    segs = segments([Phoneme(0, "aI"), Phoneme(200, "_")], "en", 220)
    assert [(s.viseme, s.start_ms, s.end_ms) for s in segs] == [("aa", 0, 100), ("ih", 100, 200), ("sil", 200, 220)]


def test_the_track_reaches_each_shape_at_its_phoneme_and_cross_fades_neighbours() -> None:
    phonemes = [Phoneme(10, "b"), Phoneme(60, "0"), Phoneme(300, "b"), Phoneme(380, "_")]
    keys = track(phonemes, "en", 390)
    assert keys[0] == (0.0, "sil", 1.0) and keys[-1][0] == 390
    assert weights_at(keys, 10)["PP"] == 1.0 and weights_at(keys, 300)["PP"] == 1.0
    assert weights_at(keys, 300 - FADE_MS / 2)["PP"] == pytest.approx(0.5)
    middle = weights_at(keys, 60)
    assert middle["aa"] == 1.0 and middle["PP"] == 1.0  # the boundary: one fading in, one out
    assert weights_at(keys, 200) == {"sil": 0.0, "PP": 0.0, "aa": 1.0}


def test_each_visemes_keys_run_forward_in_time_even_when_it_comes_back_quickly() -> None:
    phonemes = [Phoneme(0, "m"), Phoneme(30, "A:"), Phoneme(45, "m"), Phoneme(60, "A:"), Phoneme(75, "_")]
    keys = track(phonemes, "en", 90)
    for viseme in {name for _t, name, _w in keys}:
        times = [t for t, name, _w in keys if name == viseme]
        assert times == sorted(times), viseme
    assert all(0 <= t <= 90 for t, _n, _w in keys)


def test_text_is_cleaned_and_empty_too_long_or_unknown_language_is_refused() -> None:
    assert clean_text("  hello\n\tworld\x00 ", "en") == "hello world"
    with pytest.raises(TextInvalid):
        clean_text(" \n ", "en")
    with pytest.raises(TextInvalid):
        clean_text("金" * 151, "zh")
    with pytest.raises(LanguageUnsupported):
        clean_text("bonjour", "fr")
