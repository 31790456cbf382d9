"""Notebook 04's report: each SFT variant's mixture, our variants beside the paper's Table 3, and the stage's claims:
instruction following (sft-format), math data lifting GSM8K (sft-math), and the v3 + v4 weight average (sft-merge)."""

from __future__ import annotations

import re
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from solar_utils import claims
from solar_utils.evaluation import TASKS, EvalResult, paired_difference, worked_answers
from solar_utils.evaluation.paired import from_gaps, mean_contrast
from solar_utils.merging import merge_models
from solar_utils.records import Example
from solar_utils.training.sft import chat_replies

from solar_utils import paper
from solar_utils.mixing import Mixture

# Paper Table 3 (instruction-tuning ablations; solar_utils/paper.yaml): H6 and GSM8K where the paper reports them,
# and where this package builds the row that is not an SFT run.
_BUILT_IN = {"v3+v4": " (notebook 06)"}
PAPER_TABLE3 = {name: {**row, "data": row["data"] + _BUILT_IN.get(name, "")}
                for name, row in paper.table("table3").items()}


def mixture_table(mixtures: dict[str, Mixture]) -> str:
    """A Markdown table of each variant's mixture: per source (replayed documents included), the examples
    used / available, and the total."""
    sources = list(dict.fromkeys(name for mixture in mixtures.values() for name in mixture.used))
    lines = ["| variant | " + " | ".join(f"{s} (used / available)" for s in sources) + " | total |",
             "|---" * (len(sources) + 2) + "|"]
    for name, mixture in mixtures.items():
        cells = [f"{mixture.used.get(s, 0)} / {mixture.available.get(s, 0)}" for s in sources]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(mixture.examples)} |")
    return "\n".join(lines)


def table3(ours: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: our SFT variants' measurements beside the paper's Table 3 rows of the same name."""
    columns = sorted({key for row in ours.values() for key in row})
    lines = ["| variant | paper data | paper H6 | paper GSM8K | " + " | ".join(columns) + " |",
             "|---" * (4 + len(columns)) + "|"]
    for name in list(PAPER_TABLE3) + [n for n in ours if n not in PAPER_TABLE3]:
        paper, row = PAPER_TABLE3.get(name, {}), ours.get(name, {})
        cells = [_cell(row.get(c)) for c in columns]
        lines.append(f"| {name} | {paper.get('data', '')} | {_cell(paper.get('h6'))} | {_cell(paper.get('gsm8k'))} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


_FINAL = re.compile(r"\\boxed\{([^{}]+)\}|answer is \$?([A-Za-z0-9.-]+?)\$?[.]?(?:\s|$)", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def final_answer(text: str) -> str | None:
    """The last stated final answer of ``text``: ``\\boxed{X}`` (Synth. Math-Instruct) or "the answer is X" (OpenOrca's
    explained letters and sums), case and punctuation aside; None when it states none."""
    found = [m.group(1) or m.group(2) for m in _FINAL.finditer(text)]
    return _words(found[-1]) if found else None


def answers(reply: str, reference: str) -> bool:
    """Whether ``reply`` gives the world's answer in ``reference``, whatever its wording around it.

    A reference that states a final answer (a letter, a number) is answered by a reply whose final answer, or whole
    text, is that answer; a one-word reference (Alpaca's bare letter) by exactly that word, so "D" is not found in
    "Dogs bark"; any other reference (a fact, a comparison, a description) by a reply that contains each of its
    sentences, in any order, case and punctuation aside."""
    want = final_answer(reference)
    if want is not None:
        return (final_answer(reply) or _words(reply)) == want
    if len(_words(reference).split()) == 1:
        return _words(reply) == _words(reference)
    got = f" {_words(reply)} "
    return all(f" {_words(sentence)} " in got for sentence in _SENTENCE.split(reference.strip()) if _words(sentence))


def format_claim(before: PreTrainedModel, after: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 heldout: list[Example], n: int) -> tuple[dict, list[dict[str, Any]]]:
    """sft-format: greedy replies to ``n`` held-out instructions (spread over the sources) before and after SFT,
    scored against the reference answers; the paired difference, the share of distinct replies, and the replies."""
    examples = heldout[:: max(1, len(heldout) // n)][:n]
    questions = [e["prompt"][-1]["content"] for e in examples]
    references = [e["completion"][-1]["content"] for e in examples]
    replies = {name: chat_replies(model, tokenizer, questions) for name, model in (("before", before), ("after", after))}
    right = {name: [float(answers(r, a)) for r, a in zip(rs, references, strict=True)] for name, rs in replies.items()}
    distinct = {name: len(set(rs)) / len(rs) for name, rs in replies.items()}
    note = (f"{len(questions)} held-out instructions: answered {100 * sum(right['before']) / len(questions):.0f}% "
            f"before, {100 * sum(right['after']) / len(questions):.0f}% after; distinct replies "
            f"{100 * distinct['before']:.0f}% before, {100 * distinct['after']:.0f}% after")
    record = claims.judge("sft-format", from_gaps([a - b for a, b in zip(right["after"], right["before"], strict=True)]),
                          note=note)
    record["distinct_replies"] = distinct
    rows = [{"question": q, "reference": a, "before": b, "after": f}
            for q, a, b, f in zip(questions, references, replies["before"], replies["after"], strict=True)]
    return record, rows


def average(models: list[PreTrainedModel]) -> PreTrainedModel:
    """The plain weight average of ``models`` (the paper's v3 + v4 merge of Table 3)."""
    return merge_models(models, "linear", weights=[1.0] * len(models))


def math_and_merge_claims(results: dict[str, EvalResult], math: str = "v3", without: str = "v2",
                          pair: tuple[str, str] = ("v3", "v4"), merged: str = "v3+v4") -> dict:
    """sft-math (GSM8K of ``math`` minus ``without``, its note saying whether each one's worked answers start from
    the question) and sft-merge (H6 of ``merged`` minus the better of ``pair``), paired; a claim whose variants
    were not trained (e.g. an optional source missing) is left out."""
    measured = {}
    if {math, without} <= set(results):
        steps = "; ".join(worked_answers.describe(name, worked_answers.summary(results[name].samples["gsm8k"]))
                          for name in (without, math))
        measured["sft-math"] = claims.judge("sft-math", paired_difference(results[math], results[without], "gsm8k"),
                                            note=steps)
    if {merged, *pair} <= set(results):
        better = max(pair, key=lambda name: results[name].h6)
        measured["sft-merge"] = claims.judge("sft-merge", mean_contrast([results[merged], results[better]],
                                                                       [1.0, -1.0], TASKS), note=f"better of the two: {better}")
    return measured
