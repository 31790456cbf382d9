"""Rephrasing seeds in the MetaMath manner (arXiv 2309.12284, section 3): one interface, two generators.

MetaMath bootstraps a question-answer pair two ways that SOLAR's Synth. Math-Instruct follows:

* ``rephrase``: rephrase the question, then answer the rephrased question (MetaMath's "Rephrasing");
* ``answer_aug``: a new worked answer to the unchanged question (MetaMath's "AnsAug").

:class:`RuleRephraser` does both offline with the tiny world's paraphrase grammar; :class:`ModelRephraser` asks any
Hugging Face causal LM with MetaMath-style few-shot prompts. Either records its ``name`` on every generation.
Nothing is checked here: wrong or malformed answers are left to :mod:`solar_utils.mathsynth.verify`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from solar_utils.config import MathSynthConfig
from solar_utils.mathsynth import grammar
from solar_utils.mathsynth.records import Generation
from solar_utils.mathsynth.seeds import Seed

METHODS = ("rephrase", "answer_aug")


@runtime_checkable
class Rephraser(Protocol):
    """``generate`` returns up to ``samples`` generations per seed and method; fewer (or none) is allowed."""

    name: str

    def generate(self, seeds: Sequence[Seed], methods: Sequence[str], samples: int, seed: int) -> list[Generation]:
        ...


def _check_methods(methods: Sequence[str]) -> None:
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown rephrasing method(s) {unknown}; choose from {list(METHODS)}")


class RuleRephraser:
    """The offline generator: template wordings and re-derived worked answers (:mod:`.grammar`).

    A seed that no template words is skipped (it yields no generation); the same ``seed`` gives the same output.
    """

    name = "rules:tinyworld-grammar"

    def generate(self, seeds: Sequence[Seed], methods: Sequence[str], samples: int, seed: int) -> list[Generation]:
        _check_methods(methods)
        out = []
        for s in seeds:
            parsed = grammar.parse(s.problem)
            values = grammar.derive(parsed) if parsed else None
            if values is None:
                continue
            for method in methods:
                rng = random.Random(f"{seed}/{s.id}/{method}")
                for _ in range(samples):
                    question = grammar.reword(parsed, rng) if method == "rephrase" else s.problem
                    solution = grammar.worked_answer(parsed, values, rng.choice(grammar.STYLES))
                    out.append(Generation(s.id, method, self.name, question, solution))
        return out


EXAMPLE_QUESTION = "What is the value of $x$ if $3x + 4 = 19$?"
EXAMPLE_REPHRASED = "Find $x$ given that three times $x$ plus four equals nineteen."
EXAMPLE_SOLUTION = ("Subtract 4 from both sides: $3x = 15$. Divide both sides by 3: $x = 5$. "
                    "The answer is $\\boxed{5}$.")


def rephrase_prompt(question: str) -> str:
    """MetaMath's question-rephrasing prompt (one worked example)."""
    return ("You are an AI assistant to help me rephrase questions. Follow the given examples.\n\n"
            f"Question: {EXAMPLE_QUESTION}\nRephrase the above question: {EXAMPLE_REPHRASED}\n\n"
            f"Question: {question}\nRephrase the above question:")


def answer_prompt(question: str) -> str:
    """A chain-of-thought answering prompt (one worked example) that asks for a boxed final answer."""
    return ("Solve the problem step by step and put the final answer in \\boxed{}.\n\n"
            f"Problem: {EXAMPLE_QUESTION}\nSolution: Let's think step by step. {EXAMPLE_SOLUTION}\n\n"
            f"Problem: {question}\nSolution: Let's think step by step.")


class ModelRephraser:
    """A causal LM rephrases questions and writes answers (MetaMath's prompts, shortened to one example each).

    Generation is batched (left padding) and greedy when ``temperature`` is 0, else sampled; each completion is
    cut at its first blank line. An empty completion yields no generation.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str, batch_size: int = 8, max_new_tokens: int = 512,
                 temperature: float = 0.7) -> None:
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, f"model:{name}"
        self.batch_size, self.max_new_tokens, self.temperature = batch_size, max_new_tokens, temperature
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def from_config(cls, cfg: MathSynthConfig, dtype: str = "bfloat16") -> ModelRephraser:
        """Load ``cfg.generator_id`` with ``AutoModelForCausalLM`` / ``AutoTokenizer`` (on a GPU if there is one)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not cfg.generator_id:
            raise ValueError("mathsynth.rephraser is 'model' but mathsynth.generator_id is not set")
        model = AutoModelForCausalLM.from_pretrained(cfg.generator_id, dtype=getattr(torch, dtype),
                                                     device_map="auto" if torch.cuda.is_available() else None)
        return cls(model, AutoTokenizer.from_pretrained(cfg.generator_id), cfg.generator_id, cfg.batch_size,
                    cfg.max_new_tokens, cfg.temperature)

    def draws(self, samples: int) -> int:
        """Completions per prompt: ``samples`` when sampling, one when greedy (the others would be identical)."""
        return samples if self.temperature > 0 else 1

    @torch.no_grad()
    def complete(self, prompts: Sequence[str], samples: int) -> list[list[str]]:
        """:meth:`draws` completions per prompt, each cut at its first blank line and stripped."""
        sampled, n = self.temperature > 0, self.draws(samples)
        out = []
        for start in range(0, len(prompts), self.batch_size):
            batch = self.tokenizer(list(prompts[start: start + self.batch_size]), return_tensors="pt",
                                   padding=True).to(self.model.device)
            tokens = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, num_return_sequences=n,
                                         pad_token_id=self.tokenizer.pad_token_id, do_sample=sampled,
                                         **({"temperature": self.temperature} if sampled else {}))
            texts = self.tokenizer.batch_decode(tokens[:, batch.input_ids.shape[1]:], skip_special_tokens=True)
            texts = [t.split("\n\n")[0].strip() for t in texts]
            out += [texts[i: i + n] for i in range(0, len(texts), n)]
        return out

    def generate(self, seeds: Sequence[Seed], methods: Sequence[str], samples: int, seed: int) -> list[Generation]:
        _check_methods(methods)
        torch.manual_seed(seed)
        questions: list[tuple[Seed, str, str]] = []  # (seed, method, question to answer)
        if "rephrase" in methods:
            rephrased = self.complete([rephrase_prompt(s.problem) for s in seeds], samples)
            questions += [(s, "rephrase", q) for s, qs in zip(seeds, rephrased) for q in qs if q]
        if "answer_aug" in methods:
            questions += [(s, "answer_aug", s.problem) for s in seeds for _ in range(self.draws(samples))]
        answers = self.complete([answer_prompt(q) for _, _, q in questions], 1)
        return [Generation(s.id, method, self.name, q, a[0]) for (s, method, q), a in zip(questions, answers) if a[0]]


def make_rephraser(cfg: MathSynthConfig, dtype: str = "bfloat16") -> Rephraser:
    """The preset's rephraser: the rule grammar (``rules``) or ``cfg.generator_id`` (``model``)."""
    return RuleRephraser() if cfg.rephraser == "rules" else ModelRephraser.from_config(cfg, dtype)


def unanswered(seeds: Sequence[Seed], generations: Sequence[Generation]) -> dict[str, str]:
    """``{seed id: "no generation"}`` for the seeds the generator returned nothing for (counted, not fatal)."""
    answered = {g.seed_id for g in generations}
    return {s.id: "no generation" for s in seeds if s.id not in answered}
