"""Per-item metrics and their aggregation, as lm-evaluation-harness computes them.

- ``acc`` / ``acc_norm``: ``ConfigurableTask.process_results`` for ``multiple_choice`` tasks — argmax of the
  log-likelihoods, and of the log-likelihoods divided by each choice's length in characters (the choice text,
  without the leading target delimiter).
- ``mc2``: ``tasks/truthfulqa/utils.process_results_mc2`` — probability mass of the true answers among all.
- GSM8K: the ``strict-match`` filter (regex ``#### (\\-?[0-9\\.\\,]+)``, first match, stripped, fallback
  ``[invalid]``) followed by ``exact_match`` with ``ignore_case`` and ``regexes_to_ignore``
  ``[",", "\\$", "(?s).*#### ", "\\.$"]`` applied to prediction and reference alike.
- Standard errors: ``api/metrics.mean_stderr`` (sample std / sqrt(n)) and, for a plain mean of subtask means,
  ``unweighted_mean_stderr`` (sqrt(sum se_i^2) / k).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

GSM8K_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
GSM8K_INVALID = "[invalid]"
GSM8K_IGNORE = (",", r"\$", r"(?s).*#### ", r"\.$")


def argmax(values: Sequence[float]) -> int:
    """Index of the first maximum (``numpy.argmax`` semantics)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def multiple_choice(lls: Sequence[float], choices: Sequence[str], gold: int) -> dict[str, float | int]:
    """``acc`` and ``acc_norm`` with their predictions; normalisation by ``len(choice)`` in characters."""
    pred = argmax(lls)
    pred_norm = argmax([ll / len(c) for ll, c in zip(lls, choices, strict=True)])
    return {"acc": float(pred == gold), "acc_norm": float(pred_norm == gold), "pred": pred, "pred_norm": pred_norm}


def mc2(lls: Sequence[float], labels: Sequence[int]) -> float:
    """Sum of p(true answers) / sum of p(all answers), p = exp(loglik); computed stably (max-shifted)."""
    top = max(lls)
    probs = [math.exp(ll - top) for ll in lls]
    return sum(p for p, label in zip(probs, labels, strict=True) if label == 1) / sum(probs)


def gsm8k_extract(generation: str) -> str:
    """The harness's ``strict-match`` filter: the number after the first ``#### `` or ``[invalid]``."""
    match = GSM8K_STRICT.findall(generation)
    return match[0].strip() if match else GSM8K_INVALID


def gsm8k_normalise(text: str) -> str:
    """``exact_match``'s preprocessing: drop commas, ``$``, everything up to ``#### ``, a final period; lower."""
    for pattern in GSM8K_IGNORE:
        text = re.sub(pattern, "", text)
    return text.lower()


def gsm8k_exact_match(extracted: str, reference: str) -> float:
    """1.0 when the extracted answer equals the reference's ``#### N`` after normalisation."""
    return float(gsm8k_normalise(extracted) == gsm8k_normalise(reference))


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def mean_stderr(values: Sequence[float]) -> float:
    """Sample standard deviation / sqrt(n); NaN below two values (the harness would divide by zero)."""
    n = len(values)
    if n < 2:
        return math.nan
    mu = mean(values)
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (n - 1)) / math.sqrt(n)


def unweighted_mean_stderr(stderrs: Sequence[float]) -> float:
    """Standard error of a plain mean of k independent subtask means."""
    return math.sqrt(sum(se**2 for se in stderrs)) / len(stderrs)
