"""A local stand-in of the hub for the `small`/`paper` code path, offline.

``write_hub(root, tokenizer)`` writes, under ``root``:

- ``models/``: toy random models in SmolLM2's shape (Llama, tied embeddings) and in Mistral's, saved with a
  tokenizer that has no chat template (as the base models' have none), and an "instruct" copy whose tokenizer has
  one (the rephraser's generator);
- ``datasets/<hub id>/``: every dataset that ``presets/small.yaml`` names, in the real dataset's schema, splits and
  configs (a README's ``configs:`` as on the hub, so that ``datasets.load_dataset(folder, name, split=...)`` reads
  them exactly as it reads the hub's). The rows are the tiny world's, which is written in those schemas, and
  OpenOrca holds one GSM8K test item, for the benchmark filter to drop.

``hub_preset(root, base)`` is ``base`` (the path of a preset YAML, e.g. ``small.yaml``) with every hub id pointed at
the copy under ``root`` and its sizes shrunk to seconds (``TOY``): the preset keeps its own recipe otherwise.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
import yaml
from conftest import tiny_llama_config
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from solar_utils.evaluation.sources import HUB_DATASETS
from solar_utils.world import WorldConfig, build_world

MODELS = {  # hub id -> (architecture, tied embeddings)
    "HuggingFaceTB/SmolLM2-360M": ("llama", True),
    "mistralai/Mistral-7B-v0.1": ("mistral", False),
}
INSTRUCT = {  # the rephrasers' generators -> the weights each copies
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": "HuggingFaceTB/SmolLM2-360M",
    "Qwen/Qwen2.5-7B-Instruct": "mistralai/Mistral-7B-v0.1",
}
LAYERS = 8

# Sizes for seconds per notebook on 2 CPU cores; every other value is the base preset's.
TOY: dict[str, Any] = {
    "model": {"num_hidden_layers": LAYERS, "dtype": "float32", "hub_context": 192},
    "heldout": {"seq_len": 32, "max_blocks": 8, "batch_size": 4},
    "dus": {"m": 2, "sweep": [0], "max_shard_size": "200KB"},
    # a random generator writes no boxed answer, so nothing would pass verification: the rule rephraser stands in
    # (the seeds are the tiny world's, whose grammar it knows); ModelRephraser is tested in test_mathsynth.py
    "mathsynth": {"max_seeds": 12, "rephraser": "rules"},
    "continued": {"train": {"max_steps": 4, "seq_len": 32, "warmup_steps": 1, "eval_every": 2, "eval_blocks": 4,
                            "save_every": 2}, "eval_limit": 4},
    "instruct": {"max_steps": 4, "batch_size": 4, "max_length": 96, "warmup_steps": 1, "eval_every": 2,
                 "save_every": 2, "heldout_per_source": 4, "eval_limit": 4},
    "eval": {"limit": 4, "max_gen_toks": 16, "num_fewshot": {"arc": 1, "hellaswag": 1, "mmlu": 1, "truthfulqa": 0,
                                                             "winogrande": 1, "gsm8k": 1}},
    "merging": {"train": {"max_steps": 4, "seq_len": 32, "warmup_steps": 1, "eval_every": 2, "eval_blocks": 4,
                          "save_every": 2}, "weights": [0.0, 0.5, 1.0], "eval_limit": 4},
    "align": {"batch_size": 4, "max_length": 96, "warmup_steps": 1, "eval_every": 2, "save_every": 2,
              "heldout_per_source": 4, "gamma_limit": 8, "eval_limit": 4},
}
CAP = 24  # every source's max_used / max_docs


def write_hub(root: Path, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> Path:
    """The local hub under ``root`` (see the module docstring); returns ``root``."""
    for hub_id, (arch, tied) in MODELS.items():
        config = tiny_llama_config(LAYERS, arch=arch, vocab_size=len(tokenizer), max_position_embeddings=256,
                                   tie_word_embeddings=tied, bos_token_id=tokenizer.bos_token_id,
                                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        torch.manual_seed(seed)
        AutoModelForCausalLM.from_config(config).save_pretrained(root / "models" / hub_id)
        base_tokenizer = copy.deepcopy(tokenizer)
        base_tokenizer.chat_template = None  # a base model's tokenizer carries no chat template
        base_tokenizer.save_pretrained(root / "models" / hub_id)
    for hub_id, weights in INSTRUCT.items():
        AutoModelForCausalLM.from_pretrained(root / "models" / weights).save_pretrained(root / "models" / hub_id)
        tokenizer.save_pretrained(root / "models" / hub_id)
    world = build_world(WorldConfig(), seed)
    for hub_id, configs in datasets(world).items():
        write_dataset(root / "datasets" / hub_id, configs)
    return root


def datasets(world: Any) -> dict[str, dict[str | None, dict[str, list[dict]]]]:
    """``{hub id: {config name (None: the default): {split: rows}}}`` from the tiny world's records."""
    files = world.files()
    corpus, heldout = files["corpus/train.jsonl"], files["corpus/heldout.jsonl"]
    seeds = [{k: s[k] for k in ("problem", "level", "type", "solution")} for s in files["math/seeds.jsonl"]]
    subsets = ["algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
               "prealgebra", "precalculus"]
    out: dict[str, dict[str | None, dict[str, list[dict]]]] = {
        "HuggingFaceFW/fineweb-edu": {"sample-10BT": {"train": corpus}},
        "Salesforce/wikitext": {"wikitext-2-raw-v1": {"test": heldout, "train": corpus}},
        "vicgalle/alpaca-gpt4": {None: {"train": files["instructions/alpaca.jsonl"]}},
        "Open-Orca/OpenOrca": {None: {"train": _with_leak(files["instructions/openorca.jsonl"], files)}},
        "EleutherAI/hendrycks_math": {name: {"train": seeds[i::len(subsets)], "test": seeds[i::len(subsets)][:2]}
                                      for i, name in enumerate(subsets)},
        "meta-math/MetaMathQA": {None: {"train": [{"query": s["problem"], "response": s["solution"],
                                                  "type": "MATH_Rephrased", "original_question": s["problem"]}
                                                 for s in seeds]}},
        "Intel/orca_dpo_pairs": {None: {"train": files["preferences/orca_dpo.jsonl"]}},
        "allenai/ultrafeedback_binarized_cleaned": {None: {"train_prefs": files["preferences/ultrafeedback.jsonl"],
                                                           "test_prefs": files["preferences/ultrafeedback.jsonl"][:8]}},
    }
    for task, spec in HUB_DATASETS.items():
        splits = {spec.eval_split: files[f"eval/{task}.jsonl"]}
        if spec.fewshot_split:
            splits[spec.fewshot_split] = files[f"eval/{task}.fewshot.jsonl"]
        out[spec.path] = {spec.name: splits}
    return out


def _with_leak(rows: list[dict], files: dict[str, list[dict]]) -> list[dict]:
    """OpenOrca's rows with a GSM8K test item planted second, as FLAN's benchmark tasks sit in the real one: the
    benchmark filter must drop it (and the cap then counts the next row)."""
    item = files["eval/gsm8k.jsonl"][0]
    leak = {"id": "flan.leak", "system_prompt": "", "question": item["question"], "response": item["answer"]}
    return [rows[0], leak, *rows[1:]]


def write_dataset(folder: Path, configs: dict[str | None, dict[str, list[dict]]]) -> None:
    """One dataset repository: a JSONL file per config and split, and the README's ``configs:`` that map them."""
    listed = []
    for name, splits in configs.items():
        files = []
        for split, rows in splits.items():
            path = Path(name or "data") / f"{split}.jsonl"
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text("".join(json.dumps(r) + "\n" for r in rows))
            files.append({"split": split, "path": str(path)})
        listed.append({"config_name": name or "default", "data_files": files})
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump({'configs': listed})}---\n")


def hub_preset(root: Path, base: Path, out: Path) -> Path:
    """``base`` with its hub ids pointed at ``root`` and the ``TOY`` sizes, written to ``out``."""
    preset = _local(yaml.safe_load(base.read_text()), root)
    _merge(preset, TOY)
    preset["eval"]["hub_root"] = str(root / "datasets")
    preset["description"] = f"{preset['description']} (on a local stand-in of the hub)"
    out.write_text(yaml.safe_dump(preset))
    return out


def _local(node: Any, root: Path) -> Any:
    """Every hub id in a preset (a source's ``path`` of kind hub, ``seed_dataset``, ``hub_id``, ``generator_id``)
    replaced by its local copy; every source's cap set to ``CAP``."""
    if isinstance(node, list):
        return [_local(v, root) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _local(v, root) for k, v in node.items()}
    if node.get("kind") == "hub":
        node["path"] = str(root / "datasets" / node["path"])
    for key in ("seed_dataset",):
        if key in node:
            node[key] = str(root / "datasets" / node[key])
    for key in ("hub_id", "generator_id"):
        if key in node:
            node[key] = str(root / "models" / node[key])
    for key in ("max_used", "max_docs"):
        if node.get(key):
            node[key] = min(node[key], CAP)
    return node


def _merge(into: dict, over: dict) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "num_fewshot":
            _merge(into[key], value)
        else:
            into[key] = value
