"""Toy material for tests, benchmarks and demos: items in the six real schemas, a BPE tokenizer, a random Llama.

Nothing here is a benchmark: the items are random sentences over a small vocabulary, made only to exercise
prompts, tokenisation, batching and scoring the way real items would (few-shot pools large enough for the
leaderboard's shot counts, HellaSwag "[title]" artefacts, GSM8K answers with commas and negatives).
"""

from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

NAMES = ("Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal")
THINGS = ("apple", "river", "stone", "lamp", "kite", "drum", "boat", "map", "bell", "seed", "coin", "rope")
VERBS = ("finds", "paints", "carries", "hides", "opens", "drops", "sells", "cleans")
PLACES = ("the market", "the hill", "a cave", "the shore", "the barn", "a tower")
SUBJECTS = ("high_school_biology", "world_facts")


def toy_items(seed: int = 0, n_eval: int = 8, n_fewshot: int = 30) -> dict[str, tuple[list[dict], list[dict]]]:
    """``{task: (eval_items, fewshot_items)}`` in the real datasets' schemas, reproducible from ``seed``."""
    rnd = random.Random(seed)
    makers = {"arc": _arc, "hellaswag": _hellaswag, "mmlu": _mmlu, "truthfulqa": _truthfulqa,
              "winogrande": _winogrande, "gsm8k": _gsm8k}
    return {task: ([make(rnd, i) for i in range(n_eval)], [make(rnd, 1000 + i) for i in range(n_fewshot)])
            for task, make in makers.items()}


def toy_texts(items: dict[str, tuple[list[dict], list[dict]]]) -> list[str]:
    """Every string in the items (to train a tokenizer that covers them)."""
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(items)
    return out


def build_tokenizer(texts: list[str], vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """Byte-level BPE with ``<s>`` prepended by default (like Llama), ``</s>`` and ``<pad>``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0, hidden: int = 64, layers: int = 2,
                max_positions: int = 1024, init_std: float = 0.1) -> LlamaForCausalLM:
    """A random Llama (float32); a large ``init_std`` makes its predictions far from ties."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_positions, initializer_range=init_std,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval()


def _sentence(rnd: random.Random) -> str:
    return f"{rnd.choice(NAMES)} {rnd.choice(VERBS)} the {rnd.choice(THINGS)} at {rnd.choice(PLACES)}"


def _arc(rnd: random.Random, i: int) -> dict:
    labels = ["A", "B", "C", "D"] if i % 3 else ["1", "2", "3"]
    texts = [" ".join(rnd.sample(THINGS, rnd.randint(1, 3))) for _ in labels]
    return {"id": f"toy-{i}", "question": f"What does {_sentence(rnd)} need?",
            "choices": {"text": texts, "label": labels}, "answerKey": rnd.choice(labels)}


def _hellaswag(rnd: random.Random, i: int) -> dict:
    title = " [title] Step one." if i % 2 else ""
    return {"ind": i, "activity_label": rnd.choice(("Sailing", "Baking", "Painting")),
            "ctx_a": f"{_sentence(rnd)}.{title}", "ctx_b": f"then {rnd.choice(NAMES)} [header] smiles",
            "ctx": "", "endings": [f"{_sentence(rnd)} [step]  again." for _ in range(4)],
            "source_id": "toy", "split": "val", "split_type": "indomain", "label": str(rnd.randrange(4))}


def _mmlu(rnd: random.Random, i: int) -> dict:
    return {"question": f" Where does {_sentence(rnd)}? ", "subject": SUBJECTS[i % len(SUBJECTS)],
            "choices": [rnd.choice(PLACES) + f" {k}" for k in range(4)], "answer": rnd.randrange(4)}


def _truthfulqa(rnd: random.Random, i: int) -> dict:
    n = rnd.randint(2, 6)
    labels = sorted([1] * rnd.randint(1, n - 1) + [0] * n, reverse=True)[:n]
    choices = [f"{_sentence(rnd)}." for _ in range(n)]
    return {"question": f"Why does {_sentence(rnd)}?", "mc1_targets": {"choices": choices, "labels": labels},
            "mc2_targets": {"choices": choices, "labels": labels}}


def _winogrande(rnd: random.Random, i: int) -> dict:
    a, b = rnd.sample(NAMES, 2)
    return {"sentence": f"{a} gave {b} the {rnd.choice(THINGS)} because _ {rnd.choice(VERBS)} it at "
                        f"{rnd.choice(PLACES)}.", "option1": a, "option2": b, "answer": rnd.choice(("1", "2"))}


def _gsm8k(rnd: random.Random, i: int) -> dict:
    x, y = rnd.randint(2, 40), rnd.randint(2, 40)
    total = x * y * (-1 if i % 4 == 0 else 25)
    return {"question": f"{rnd.choice(NAMES)} has {x} bags of {y} {rnd.choice(THINGS)}s. How many?",
            "answer": f"{x} bags times {y} is {x * y}.\n#### {total:,}"}


def toy_setup(seed: int = 0, n_eval: int = 8, max_positions: int = 1024
              ) -> tuple[dict[str, tuple[list[dict], list[dict]]], PreTrainedTokenizerFast, LlamaForCausalLM]:
    """Toy items, a tokenizer trained on them and a random model over that tokenizer."""
    items = toy_items(seed, n_eval=n_eval)
    tokenizer = build_tokenizer(toy_texts(items))
    return items, tokenizer, build_model(tokenizer, seed=seed, max_positions=max_positions)
