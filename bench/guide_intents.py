"""The digital guide's understanding, measured: the question bank's size and the intent model's accuracy on held-out
phrasings (render_node/guide/intents.py, assets/guide/questions.toml).

Each intent's phrasings are split in half per language with a fixed seed; the model is built from one half (with
the bank's cue words) and asked the other half, then the halves swap (two folds). Reported: accuracy of the best
intent, how often the confidence threshold sends a bank question to an advisor (false advisor), how often it
answers with the wrong intent (wrong answer), per-intent accuracy with the worst intents' confusions, and how
often out-of-bank questions (below) are answered instead of offering an advisor.

Usage: .venv/bin/python bench/guide_intents.py [--seed 20261130] [--out bench/results]
Writes guide_intents.md there and prints it.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

from render_node.guide.intents import THRESHOLD, Lang, load_bank, model_of, split_half

ROOT = Path(__file__).resolve().parents[1]
OUT_OF_BANK: tuple[str, ...] = (
    "今天天气怎么样", "你会唱歌吗", "帮我订一张去北京的机票", "附近有什么好吃的", "股票明天会涨吗怎么操作",
    "我想吃火锅", "讲个笑话", "这个城市有多少人口",
    "what's the weather like", "what's the capital of France", "book me a taxi", "play some music",
    "qwxz blorp vrrk", "tell me a joke", "who won the football match", "translate this into German",
)
"""Questions the bank has no answer for: the guide should offer an advisor (not answer) for each."""

Example = tuple[str, Lang, str]


Row = tuple[str, Lang, str, str, float]
"""(true intent, lang, question, best intent, confidence)."""


def evaluate(train: list[Example], test: list[Example]) -> list[Row]:
    """The model of `train` asked every question of `test`."""
    model = model_of(load_bank(), THRESHOLD, train)
    rows: list[Row] = []
    for intent, lang, text in test:
        m = model.classify(text)
        rows.append((intent, lang, text, m.best, m.confidence))
    return rows


def pct(k: int, total: int) -> str:
    return f"{100 * k / total:.1f} %" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    bank = load_bank()
    examples = bank.examples()
    a, b = split_half(examples, seed=args.seed)
    rows: list[Row] = []
    for train, test in ((a, b), (b, a)):
        rows += evaluate(train, test)
    n = len(rows)
    right = [r for r in rows if r[3] == r[0]]
    false_advisor = [r for r in rows if r[4] < THRESHOLD]
    wrong_answer = [r for r in rows if r[4] >= THRESHOLD and r[3] != r[0]]
    by_lang = {lang: [r for r in rows if r[1] == lang] for lang in ("zh", "en")}
    per_intent: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        per_intent[r[0]].append(r)

    full = model_of(bank)
    started = time.perf_counter()
    oob = [full.classify(q) for q in OUT_OF_BANK]
    per_question_ms = (time.perf_counter() - started) * 1000 / len(OUT_OF_BANK)
    answered_oob = [(q, m) for q, m in zip(OUT_OF_BANK, oob, strict=True) if m.intent is not None]

    zh = sum(len(i.phrasings["zh"]) for i in bank.intents.values())
    en = sum(len(i.phrasings["en"]) for i in bank.intents.values())
    cues = sum(len(i.cues) for i in bank.intents.values())
    lines = [
        "# Guide understanding: intent accuracy on held-out phrasings",
        "",
        f"`.venv/bin/python bench/guide_intents.py --seed {args.seed}`: the model of render_node/guide/intents.py "
        f"(TF-IDF over character n-grams, nearest phrasing by cosine, plus the bank's cue words) built from one half "
        f"of each intent's phrasings per language and asked the other half, then the halves swapped (2 folds). "
        f"Confidence threshold {THRESHOLD} (below it the guide offers an advisor).",
        "",
        "| question bank | |",
        "| --- | --- |",
        f"| intents | {len(bank.intents)} |",
        f"| phrasings | {zh + en} ({zh} zh, {en} en) |",
        f"| cue words | {cues} |",
        f"| held-out questions asked (2 folds) | {n} |",
        "",
        "| held-out result | all | zh | en |",
        "| --- | --- | --- | --- |",
        f"| best intent right | {pct(len(right), n)} | "
        + " | ".join(pct(sum(r[3] == r[0] for r in by_lang[g]), len(by_lang[g])) for g in ("zh", "en")) + " |",
        f"| answered with the right intent (right and >= threshold) | "
        f"{pct(sum(r[3] == r[0] and r[4] >= THRESHOLD for r in rows), n)} | "
        + " | ".join(pct(sum(r[3] == r[0] and r[4] >= THRESHOLD for r in by_lang[g]), len(by_lang[g]))
                     for g in ("zh", "en")) + " |",
        f"| false advisor (a bank question below the threshold) | {pct(len(false_advisor), n)} | "
        + " | ".join(pct(sum(r[4] < THRESHOLD for r in by_lang[g]), len(by_lang[g])) for g in ("zh", "en")) + " |",
        f"| wrong answer (wrong intent above the threshold) | {pct(len(wrong_answer), n)} | "
        + " | ".join(pct(sum(r[4] >= THRESHOLD and r[3] != r[0] for r in by_lang[g]), len(by_lang[g]))
                     for g in ("zh", "en")) + " |",
        f"| out-of-bank questions answered instead of an advisor | {len(answered_oob)} of {len(OUT_OF_BANK)} | | |",
        "",
        "Per intent (held-out, both folds), worst first; `confused with` counts the wrong best intents:",
        "",
        "| intent | accuracy | confused with |",
        "| --- | --- | --- |",
    ]
    ranked = sorted(per_intent.items(), key=lambda kv: sum(r[3] == r[0] for r in kv[1]) / len(kv[1]))
    for intent, rs in ranked:
        confused = Counter(r[3] for r in rs if r[3] != r[0])
        lines.append(f"| {intent} | {pct(sum(r[3] == r[0] for r in rs), len(rs))} | "
                     + (", ".join(f"{k} {v}" for k, v in confused.most_common(3)) or "-") + " |")
    lines += ["", "The worst intents' misses (question -> best intent, confidence):", ""]
    for intent, rs in ranked[:3]:
        for r in rs:
            if r[3] != r[0]:
                lines.append(f"- {intent}: \"{r[2]}\" -> {r[3]} ({r[4]:.2f})")
    lines += ["", "Out-of-bank questions answered (the rest offered an advisor):", ""]
    lines += [f"- \"{q}\" -> {m.intent} ({m.confidence:.2f})" for q, m in answered_oob] or ["- none"]
    lines += ["", f"Classifying one question with the full bank takes {per_question_ms:.2f} ms on this machine "
                  f"(mean over the out-of-bank questions).", ""]
    text = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "guide_intents.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
