"""The six Open LLM Leaderboard v1 tasks: validation of items, prompts, few-shot contexts, requests, per-item scores.

Prompts follow lm-evaluation-harness 0.4 task YAMLs (``arc_challenge``, ``hellaswag``, ``mmlu`` default,
``truthfulqa_mc2``, ``winogrande``, ``gsm8k``) rendered as ``ConfigurableTask.fewshot_context`` does without a
chat template: ``description + Σ(query + " " + answer + "\\n\\n") + query``; multiple-choice continuations are
``" " + choice`` (``target_delimiter`` " ", ``fewshot_delimiter`` "\\n\\n").

Few-shot examples come from a separate pool (the task's train/dev split) and, as in the harness, are never
filtered against the evaluated item (the harness only does that when the few-shot split is the test split).
Sampling follows ``api/samplers.py``: ``ContextSampler`` — one ``random.Random(seed)`` per task, drawing
``rnd.sample(pool, k)`` for each item in order (so item i's shots depend on the items before it, exactly as in
the harness with the same ``limit``); MMLU uses ``FirstNSampler`` — the first k items of the subject's dev pool.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solar_utils.evaluation import metrics
from solar_utils.h6 import TASKS

TRUTHFULQA_PREAMBLE = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain."
)
GSM8K_UNTIL: tuple[str, ...] = ("Question:", "</s>", "<|im_end|>")
MMLU_LETTERS: tuple[str, ...] = ("A", "B", "C", "D")


class ItemError(ValueError):
    """A malformed item: names the task, the item's position and the offending field."""

    def __init__(self, task: str, where: str, field: str, problem: str) -> None:
        super().__init__(f"{task}: {where}: field {field!r}: {problem}")


@dataclass(frozen=True)
class Prompt:
    """One item as model requests (the harness's Instances for one doc).

    Multiple choice: request i is ``(contexts[i], continuations[i])``. Generation: one context, no continuation.
    ``choices`` are the answer texts whose character lengths normalise ``acc_norm``.
    """

    index: int
    contexts: tuple[str, ...]
    continuations: tuple[str, ...]
    choices: tuple[str, ...]
    gold: int | tuple[int, ...] | str
    group: str = ""

    @property
    def requests(self) -> list[tuple[str, str]]:
        return list(zip(self.contexts, self.continuations, strict=True))


class Task:
    """A leaderboard task: checks raw items, renders prompts and scores a model's answers for one item."""

    name: str
    metric: str
    num_fewshot: int
    generative = False
    first_n_fewshot = False

    def check(self, doc: Any, where: str) -> None:
        """Raise :class:`ItemError` unless ``doc`` has the real dataset's fields with usable values."""
        raise NotImplementedError

    def process(self, doc: dict) -> dict:
        """The harness's ``process_docs`` for one doc (identity unless the task defines one)."""
        return doc

    def description(self, doc: dict) -> str:
        return ""

    def group(self, doc: dict) -> str:
        """Sub-task an item belongs to (MMLU subject); few-shot pools and sub-scores are per group."""
        return ""

    def query(self, doc: dict) -> str:
        raise NotImplementedError

    def fewshot_query(self, doc: dict) -> str:
        return self.query(doc)

    def answer(self, doc: dict) -> str:
        """The text after the target delimiter when ``doc`` is a few-shot example."""
        raise NotImplementedError

    def prompt(self, index: int, doc: dict, shots: Sequence[dict]) -> Prompt:
        raise NotImplementedError

    def score(self, prompt: Prompt, output: Sequence[float] | str) -> dict[str, Any]:
        """Per-item record fields: the metric value under ``self.metric`` and a ``prediction``."""
        raise NotImplementedError

    def overlap_text(self, doc: dict) -> str:
        """All the text of an item that a leaked copy would contain (for n-gram contamination checks)."""
        raise NotImplementedError

    def prefix(self, doc: dict, shots: Sequence[dict]) -> str:
        """``description`` followed by the few-shot examples, each ending in the few-shot delimiter."""
        return self.description(doc) + "".join(
            f"{self.fewshot_query(s)} {self.answer(s)}\n\n" for s in shots
        )


class MultipleChoiceTask(Task):
    """One shared context; each choice is scored as the continuation ``" " + choice``."""

    def choices(self, doc: dict) -> list[str]:
        raise NotImplementedError

    def gold(self, doc: dict) -> int | tuple[int, ...]:
        raise NotImplementedError

    def answer(self, doc: dict) -> str:
        gold = self.gold(doc)
        assert isinstance(gold, int)
        return self.choices(doc)[gold]

    def prompt(self, index: int, doc: dict, shots: Sequence[dict]) -> Prompt:
        choices = tuple(self.choices(doc))
        context = self.prefix(doc, shots) + self.query(doc)
        return Prompt(index, (context,) * len(choices), tuple(f" {c}" for c in choices), choices,
                      self.gold(doc), self.group(doc))

    def score(self, prompt: Prompt, output: Sequence[float] | str) -> dict[str, Any]:
        assert isinstance(prompt.gold, int) and not isinstance(output, str)
        mc = metrics.multiple_choice(output, prompt.choices, prompt.gold)
        pred = mc["pred_norm"] if self.metric == "acc_norm" else mc["pred"]
        return {"acc": mc["acc"], "acc_norm": mc["acc_norm"], "prediction": pred}

    def overlap_text(self, doc: dict) -> str:
        return " ".join([self.query(doc), *self.choices(doc)])


class Arc(MultipleChoiceTask):
    """``arc_challenge``: "Question: …\\nAnswer:", gold = ``choices.label.index(answerKey)``; acc_norm."""

    name, metric, num_fewshot = "arc", "acc_norm", 25

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        _text(self.name, where, doc, "question")
        choices = _field(self.name, where, doc, "choices", dict)
        texts = _strings(self.name, where, choices, "text", "choices.text")
        labels = _field(self.name, where, choices, "label", list, "choices.label")
        if len(labels) != len(texts):
            raise ItemError(self.name, where, "choices.label", f"{len(labels)} labels for {len(texts)} texts")
        key = _field(self.name, where, doc, "answerKey", str)
        if key not in labels:
            raise ItemError(self.name, where, "answerKey", f"{key!r} is not one of the labels {labels}")

    def query(self, doc: dict) -> str:
        return f"Question: {doc['question']}\nAnswer:"

    def choices(self, doc: dict) -> list[str]:
        return list(doc["choices"]["text"])

    def gold(self, doc: dict) -> int:
        return doc["choices"]["label"].index(doc["answerKey"])


def _hellaswag_clean(text: str) -> str:
    """``tasks/hellaswag/utils.preprocess``: strip, WikiHow "[title]" → ". ", drop "[…]", collapse "  "."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


class HellaSwag(MultipleChoiceTask):
    """``hellaswag``: query = clean(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()); acc_norm.

    ``str.capitalize`` lower-cases the rest of ``ctx_b``, exactly as the harness does.
    """

    name, metric, num_fewshot = "hellaswag", "acc_norm", 10

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        for key in ("activity_label", "ctx_a", "ctx_b"):
            _field(self.name, where, doc, key, str)
        endings = _strings(self.name, where, doc, "endings")
        label = _field(self.name, where, doc, "label", (str, int))
        if not str(label).isdigit() or int(label) >= len(endings):
            raise ItemError(self.name, where, "label", f"{label!r} is not an index into {len(endings)} endings")

    def process(self, doc: dict) -> dict:
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        return {**doc, "query": _hellaswag_clean(doc["activity_label"] + ": " + ctx),
                "choices": [_hellaswag_clean(e) for e in doc["endings"]], "gold": int(doc["label"])}

    def query(self, doc: dict) -> str:
        return doc["query"]

    def choices(self, doc: dict) -> list[str]:
        return doc["choices"]

    def gold(self, doc: dict) -> int:
        return doc["gold"]


class MMLU(MultipleChoiceTask):
    """``mmlu`` default (``_default_template_yaml``): per-subject description, lettered options, answers " A".." D".

    Few-shot: the first k dev items of the same subject (``first_n`` sampler). Score: plain mean over subjects.
    """

    name, metric, num_fewshot = "mmlu", "acc", 5
    first_n_fewshot = True

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        _text(self.name, where, doc, "question")
        _text(self.name, where, doc, "subject")
        choices = _strings(self.name, where, doc, "choices")
        if len(choices) != len(MMLU_LETTERS):
            raise ItemError(self.name, where, "choices", f"needs exactly 4 options, got {len(choices)}")
        answer = _field(self.name, where, doc, "answer", int)
        if isinstance(answer, bool) or not 0 <= answer < len(MMLU_LETTERS):
            raise ItemError(self.name, where, "answer", f"{answer!r} is not an index 0..3")

    def group(self, doc: dict) -> str:
        return doc["subject"]

    def description(self, doc: dict) -> str:
        subject = doc["subject"].replace("_", " ")
        return f"The following are multiple choice questions (with answers) about {subject}.\n\n"

    def query(self, doc: dict) -> str:
        options = "".join(f"\n{letter}. {text}" for letter, text in zip(MMLU_LETTERS, doc["choices"], strict=True))
        return f"{doc['question'].strip()}{options}\nAnswer:"

    def choices(self, doc: dict) -> list[str]:
        return list(MMLU_LETTERS)

    def gold(self, doc: dict) -> int:
        return doc["answer"]

    def overlap_text(self, doc: dict) -> str:
        return " ".join([doc["question"], *doc["choices"]])


class TruthfulQA(MultipleChoiceTask):
    """``truthfulqa_mc2``: fixed 6-QA preamble + "\\n\\nQ: …\\nA:", choices ``mc2_targets``; metric mc2.

    Only ``mc2_targets`` is read (``mc1_targets`` is not needed for mc2). The recorded prediction is the argmax
    log-likelihood; a few-shot example (0 by default) answers with its first choice, as ``doc_to_target: 0``.
    """

    name, metric, num_fewshot = "truthfulqa", "mc2", 0

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        _text(self.name, where, doc, "question")
        targets = _field(self.name, where, doc, "mc2_targets", dict)
        choices = _strings(self.name, where, targets, "choices", "mc2_targets.choices")
        labels = _field(self.name, where, targets, "labels", list, "mc2_targets.labels")
        if len(labels) != len(choices) or any(label not in (0, 1) or isinstance(label, bool) for label in labels):
            raise ItemError(self.name, where, "mc2_targets.labels",
                            f"needs one 0/1 label per choice ({len(choices)}), got {labels!r}")
        if 1 not in labels:
            raise ItemError(self.name, where, "mc2_targets.labels", "no true answer")

    def query(self, doc: dict) -> str:
        return f"{TRUTHFULQA_PREAMBLE}\n\nQ: {doc['question']}\nA:"

    def choices(self, doc: dict) -> list[str]:
        return list(doc["mc2_targets"]["choices"])

    def answer(self, doc: dict) -> str:
        return self.choices(doc)[0]

    def gold(self, doc: dict) -> tuple[int, ...]:
        return tuple(doc["mc2_targets"]["labels"])

    def score(self, prompt: Prompt, output: Sequence[float] | str) -> dict[str, Any]:
        assert isinstance(prompt.gold, tuple) and not isinstance(output, str)
        return {"mc2": metrics.mc2(output, prompt.gold), "prediction": metrics.argmax(output)}

    def overlap_text(self, doc: dict) -> str:
        return " ".join([doc["question"], *self.choices(doc)])


class Winogrande(Task):
    """``winogrande`` partial scoring: contexts = sentence up to "_" + each option; one continuation, the rest.

    The continuation is ``" " + sentence[after "_"].strip()``; a few-shot example is the sentence with the
    correct option filled in (``fewshot_context``'s multiple-input path). Metric acc.
    """

    name, metric, num_fewshot = "winogrande", "acc", 5

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        sentence = _field(self.name, where, doc, "sentence", str)
        if "_" not in sentence:
            raise ItemError(self.name, where, "sentence", "has no blank '_'")
        if not sentence[sentence.index("_") + 1:].strip():
            raise ItemError(self.name, where, "sentence", "has nothing after the blank to score")
        _text(self.name, where, doc, "option1")
        _text(self.name, where, doc, "option2")
        answer = _field(self.name, where, doc, "answer", str)
        if answer not in ("1", "2"):
            raise ItemError(self.name, where, "answer", f"{answer!r} is not '1' or '2'")

    def options(self, doc: dict) -> list[str]:
        return [doc["option1"], doc["option2"]]

    def gold(self, doc: dict) -> int:
        return int(doc["answer"]) - 1

    def fewshot_query(self, doc: dict) -> str:
        return doc["sentence"][: doc["sentence"].index("_")] + self.options(doc)[self.gold(doc)]

    def answer(self, doc: dict) -> str:
        return doc["sentence"][doc["sentence"].index("_") + 1:].strip()

    def prompt(self, index: int, doc: dict, shots: Sequence[dict]) -> Prompt:
        head = self.prefix(doc, shots) + doc["sentence"][: doc["sentence"].index("_")]
        options = tuple(self.options(doc))
        return Prompt(index, tuple(head + o for o in options), (f" {self.answer(doc)}",) * len(options), options,
                      self.gold(doc))

    def score(self, prompt: Prompt, output: Sequence[float] | str) -> dict[str, Any]:
        assert isinstance(prompt.gold, int) and not isinstance(output, str)
        pred = metrics.argmax(output)
        return {"acc": float(pred == prompt.gold), "prediction": pred}

    def overlap_text(self, doc: dict) -> str:
        return " ".join([doc["sentence"], *self.options(doc)])


class GSM8K(Task):
    """``gsm8k``: "Question: …\\nAnswer:", greedy generation until "Question:", "</s>", "<|im_end|>" (+ EOS);
    strict-match extraction of "#### N" and exact match against the reference's "#### N"."""

    name, metric, num_fewshot = "gsm8k", "exact_match", 5
    generative = True

    def check(self, doc: Any, where: str) -> None:
        _mapping(self.name, where, doc)
        _text(self.name, where, doc, "question")
        if "#### " not in _field(self.name, where, doc, "answer", str):
            raise ItemError(self.name, where, "answer", "has no final '#### N' line")

    def query(self, doc: dict) -> str:
        return f"Question: {doc['question']}\nAnswer:"

    def answer(self, doc: dict) -> str:
        return doc["answer"]

    def prompt(self, index: int, doc: dict, shots: Sequence[dict]) -> Prompt:
        return Prompt(index, (self.prefix(doc, shots) + self.query(doc),), (), (), doc["answer"])

    def score(self, prompt: Prompt, output: Sequence[float] | str) -> dict[str, Any]:
        assert isinstance(output, str) and isinstance(prompt.gold, str)
        extracted = metrics.gsm8k_extract(output)
        return {"exact_match": metrics.gsm8k_exact_match(extracted, prompt.gold), "prediction": extracted,
                "generation": output}

    def overlap_text(self, doc: dict) -> str:
        return f"{doc['question']} {doc['answer']}"


TASK_REGISTRY: dict[str, Task] = {t.name: t for t in (Arc(), HellaSwag(), MMLU(), TruthfulQA(), Winogrande(), GSM8K())}


def get_task(name: str) -> Task:
    if name not in TASK_REGISTRY:
        raise ValueError(f"unknown task {name!r}: choose from {', '.join(TASKS)}")
    return TASK_REGISTRY[name]


def prepare(task: Task, docs: Sequence[Any], pool: Sequence[Any], num_fewshot: int, seed: int) -> list[Prompt]:
    """Check every item and few-shot example, then render each item with its few-shot context."""
    for i, doc in enumerate(docs):
        task.check(doc, f"item {i}")
    for i, doc in enumerate(pool):
        task.check(doc, f"few-shot item {i}")
    docs = [task.process(d) for d in docs]
    pool = [task.process(d) for d in pool]
    shots = sample_fewshot(task, docs, pool, num_fewshot, seed)
    return [task.prompt(i, doc, s) for i, (doc, s) in enumerate(zip(docs, shots, strict=True))]


def sample_fewshot(task: Task, docs: Sequence[dict], pool: Sequence[dict], k: int,
                   seed: int) -> list[list[dict]]:
    """Few-shot examples per item: ``first_n`` of the item's group, or one seeded RNG drawing k per item."""
    if k == 0:
        return [[] for _ in docs]
    if task.first_n_fewshot:
        by_group: dict[str, list[dict]] = {}
        for example in pool:
            by_group.setdefault(task.group(example), []).append(example)
        out = []
        for doc in docs:
            candidates = by_group.get(task.group(doc), [])
            _enough(task, k, len(candidates), f" for group {task.group(doc)!r}")
            out.append(candidates[:k])
        return out
    _enough(task, k, len(pool), "")
    rnd = random.Random(seed)
    return [rnd.sample(list(pool), k) for _ in docs]


def _enough(task: Task, k: int, available: int, scope: str) -> None:
    if available < k:
        raise ValueError(f"{task.name}: {k} few-shot examples requested but the few-shot pool{scope} "
                         f"has only {available}")


def _mapping(task: str, where: str, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ItemError(task, where, "<item>", f"expected a JSON object, got {type(doc).__name__}")


def _field(task: str, where: str, doc: dict, key: str, kind: type | tuple[type, ...], label: str | None = None) -> Any:
    if key not in doc:
        raise ItemError(task, where, label or key, "missing")
    value = doc[key]
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ItemError(task, where, label or key, f"expected {names}, got {type(value).__name__}")
    return value


def _text(task: str, where: str, doc: dict, key: str) -> str:
    value = _field(task, where, doc, key, str)
    if not value.strip():
        raise ItemError(task, where, key, "is empty")
    return value


def _strings(task: str, where: str, doc: dict, key: str, label: str | None = None) -> list[str]:
    """A non-empty list of non-empty strings."""
    values = _field(task, where, doc, key, list, label)
    if not values:
        raise ItemError(task, where, label or key, "has no choices")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ItemError(task, where, f"{label or key}[{i}]", f"expected a non-empty string, got {value!r}")
    return values
