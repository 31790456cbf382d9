"""The score cache of ``score_models``: hits run no model, misses on every setting that changes a task's numbers,
folder and in-memory copies of the same weights share entries, partial hits and corrupt files."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from solar_utils.checkpoints import save_model
from solar_utils.config import EvalConfig
from solar_utils.evaluation import MemorySource, Scorer, score_models
from solar_utils.evaluation import cache as score_cache
from solar_utils.evaluation import evaluator
from solar_utils.evaluation.sources import dump_source
from solar_utils.evaluation.toy import toy_setup

TASKS3 = ["arc", "mmlu", "gsm8k"]  # a plain, a grouped (subscores) and a generative task
SETTINGS = EvalConfig(num_fewshot={"arc": 1, "mmlu": 1, "gsm8k": 1}, batch_size=4, max_gen_toks=8)
LIMIT, SEED = 4, 3


class Missed(Exception):
    """Raised by the ``evaluate`` spy: ``args[0]`` are the tasks ``score_models`` had to score."""


@pytest.fixture(scope="module")
def toy():
    return toy_setup(seed=0, n_eval=5)


@pytest.fixture(scope="module")
def world(toy, tmp_path_factory) -> Path:
    items, _, _ = toy
    out = tmp_path_factory.mktemp("world")
    dump_source(MemorySource(items), out / "eval")
    return out


@pytest.fixture(scope="module")
def warm(toy, world, tmp_path_factory):
    """One fresh scoring of the toy model with a cache: ``(cache_dir, result)``."""
    _, tokenizer, model = toy
    cache_dir = tmp_path_factory.mktemp("scores")
    (result,) = score_models({"m": model}, tokenizer, SETTINGS, world, seed=SEED, tasks=TASKS3, limit=LIMIT,
                             cache_dir=cache_dir).values()
    return cache_dir, result


def _score(model, tokenizer, world, cache_dir, settings=SETTINGS, **kwargs):
    kwargs = {"seed": SEED, "tasks": TASKS3, "limit": LIMIT} | kwargs
    (result,) = score_models({"m": model}, tokenizer, settings, world, cache_dir=cache_dir, **kwargs).values()
    return result


def _copy(cache_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(cache_dir, tmp_path / "scores"))


def _same(a, b) -> None:
    assert a.scores == b.scores and a.samples == b.samples and a.subscores == b.subscores
    assert a.stderrs.keys() == b.stderrs.keys()
    assert all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.stderrs.values(), b.stderrs.values()))


def _forbid_scoring(monkeypatch: pytest.MonkeyPatch, *, generate: bool = True) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the model was run although its scores were cached")

    monkeypatch.setattr(Scorer, "loglikelihoods", refuse)
    if generate:
        monkeypatch.setattr(Scorer, "generate", refuse)
    monkeypatch.setattr(evaluator, "load_for_scoring", refuse)


def _spy_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    def spy(model, tokenizer, tasks, **kwargs):
        raise Missed(list(tasks))

    monkeypatch.setattr(evaluator, "evaluate", spy)


def _misses(*args, **kwargs) -> list[str]:
    """The tasks a ``_score`` call would have to score (none: it returned from the cache)."""
    try:
        _score(*args, **kwargs)
    except Missed as missed:
        return missed.args[0]
    return []


def test_a_second_call_is_served_from_the_cache_with_identical_results_and_files(
        toy, world, warm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokenizer, model = toy
    cache_dir, fresh = warm
    assert fresh.settings["cached"] == []
    assert sorted(p.name.split("-")[0] for p in cache_dir.iterdir()) == sorted(TASKS3)  # one file per task
    assert fresh.subscores["mmlu"] and fresh.samples["gsm8k"][0]["generation"] is not None
    uncached = _score(model, tokenizer, world, None)
    _same(uncached, fresh)
    assert uncached.settings == fresh.settings
    _forbid_scoring(monkeypatch)
    again = _score(model, tokenizer, world, cache_dir, output_dir=tmp_path / "out")
    _same(again, fresh)
    assert again.settings == {**fresh.settings, "cached": TASKS3}
    assert list(again.scores) == TASKS3 and list(again.settings["num_fewshot"]) == TASKS3
    out = tmp_path / "out" / "m"
    assert sorted(p.name for p in out.iterdir()) == ["results.json"] + [f"samples_{t}.jsonl" for t in sorted(TASKS3)]
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(again.summary()))
    lines = (out / "samples_mmlu.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == fresh.samples["mmlu"]


def test_a_checkpoint_folder_and_the_model_in_memory_share_entries(
        toy, world, warm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokenizer, model = toy
    cache_dir, fresh = warm
    checkpoint = save_model(model, tmp_path / "ckpt", tokenizer=tokenizer)
    _forbid_scoring(monkeypatch)  # includes load_for_scoring: the folder is never loaded
    from_disk = _score(checkpoint, None, world, _copy(cache_dir, tmp_path))
    _same(from_disk, fresh)
    assert from_disk.settings == {**fresh.settings, "model": str(checkpoint), "cached": TASKS3}


def test_partially_cached_tasks_equal_a_fresh_run(toy, world, warm, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokenizer, model = toy
    cache_dir = _copy(warm[0], tmp_path)
    (gsm8k_file,) = cache_dir.glob("gsm8k-*.json")
    gsm8k_file.unlink()
    checkpoint = save_model(model, tmp_path / "ckpt", tokenizer=tokenizer)
    evaluated = []
    real_evaluate = evaluator.evaluate
    monkeypatch.setattr(evaluator, "evaluate", lambda m, t, tasks, **kw: evaluated.append(list(tasks))
                        or real_evaluate(m, t, tasks, **kw))
    monkeypatch.setattr(Scorer, "loglikelihoods", lambda *a, **k: pytest.fail("arc and mmlu were cached"))
    mixed = _score(checkpoint, None, world, cache_dir)  # loaded from disk, since gsm8k is missing
    assert evaluated == [["gsm8k"]]
    _same(mixed, warm[1])
    assert mixed.settings == {**warm[1].settings, "model": str(checkpoint), "cached": ["arc", "mmlu"]}
    assert gsm8k_file.is_file()  # stored again


def test_every_setting_that_changes_the_numbers_misses_and_batch_size_hits(
        toy, world, warm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokenizer, model = toy
    cache_dir = warm[0]
    _spy_misses(monkeypatch)
    assert _misses(model, tokenizer, world, cache_dir) == []
    assert _misses(model, tokenizer, world, cache_dir, settings=EvalConfig(
        num_fewshot=SETTINGS.num_fewshot, batch_size=1, max_gen_toks=8)) == []
    assert _misses(model, tokenizer, world, cache_dir, settings=EvalConfig(
        num_fewshot={**SETTINGS.num_fewshot, "arc": 2}, batch_size=4, max_gen_toks=8)) == ["arc"]
    assert _misses(model, tokenizer, world, cache_dir, limit=3) == TASKS3
    assert _misses(model, tokenizer, world, cache_dir, limit={"mmlu": 3, "arc": 4, "gsm8k": 4}) == ["mmlu"]
    assert _misses(model, tokenizer, world, cache_dir, seed=SEED + 1) == TASKS3
    assert _misses(model, tokenizer, world, cache_dir, settings=EvalConfig(  # only GSM8K generates
        num_fewshot=SETTINGS.num_fewshot, batch_size=4, max_gen_toks=9)) == ["gsm8k"]
    other_world = Path(shutil.copytree(world, tmp_path / "world"))  # same bytes elsewhere: hits
    assert _misses(model, tokenizer, other_world, cache_dir) == []
    arc = other_world / "eval" / "arc.jsonl"
    arc.write_text(arc.read_text().replace("What does", "What did", 1))
    assert _misses(model, tokenizer, other_world, cache_dir) == ["arc"]
    (other_world / "eval" / "mmlu.fewshot.jsonl").write_text("")
    assert _misses(model, tokenizer, other_world, cache_dir) == ["arc", "mmlu"]


def test_other_weights_or_tokenizer_miss(toy, world, warm, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokenizer, model = toy
    cache_dir = warm[0]
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.model.norm.weight[0] += 1e-3
    _spy_misses(monkeypatch)
    assert _misses(other, tokenizer, world, cache_dir) == TASKS3
    assert _misses(copy.deepcopy(model).to(torch.float64), tokenizer, world, cache_dir) == TASKS3
    templated = copy.deepcopy(tokenizer)
    templated.chat_template = "{{ messages[0]['content'] }}"
    assert _misses(model, templated, world, cache_dir) == TASKS3
    longer = copy.deepcopy(model)  # same weights, another context length: another max_length and config
    longer.config.max_position_embeddings = 2048
    assert _misses(longer, tokenizer, world, cache_dir) == TASKS3
    assert _misses(model, tokenizer, world, cache_dir) == []


def test_corrupt_or_foreign_cache_files_are_rescored_and_rewritten(toy, world, warm, tmp_path: Path) -> None:
    _, tokenizer, model = toy
    cache_dir = _copy(warm[0], tmp_path)
    files = {t: next(cache_dir.glob(f"{t}-*.json")) for t in TASKS3}
    files["arc"].write_text(files["arc"].read_text()[:100])  # truncated
    tampered = json.loads(files["mmlu"].read_text())
    tampered["score"] = 1.0  # a number changed by hand: the checksum no longer matches
    files["mmlu"].write_text(json.dumps(tampered))
    foreign = json.loads(files["gsm8k"].read_text())
    foreign["key"]["seed"] = SEED + 1  # another key's entry under this key's name
    files["gsm8k"].write_text(json.dumps(foreign))
    with pytest.warns(UserWarning, match="score cache: ignoring") as caught:
        result = _score(model, tokenizer, world, cache_dir)
    assert len([w for w in caught if "score cache" in str(w.message)]) == 3 and result.settings["cached"] == []
    _same(result, warm[1])
    for task, path in files.items():
        entry = json.loads(path.read_text())
        assert entry["key"]["seed"] == SEED and entry["score"] == warm[1].scores[task]


def test_nan_stderrs_round_trip_as_strict_json(tmp_path: Path) -> None:
    key = {"format": score_cache.FORMAT, "task": "winogrande", "weights": "w", "seed": 1}
    samples = [{"index": 0, "acc": 1.0, "prediction": 1, "gold": 1, "loglikelihoods": [-1.5, -0.25]}]
    path = score_cache.store(tmp_path, key, samples=samples, score=1.0, stderr=math.nan, subscores=None,
                             settings={"batch_size": 4})
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    entry = score_cache.load(tmp_path, key)
    assert entry is not None and math.isnan(entry["stderr"]) and entry["samples"] == samples
    assert entry["subscores"] is None and entry["settings"] == {"batch_size": 4}
    assert score_cache.load(tmp_path, {**key, "seed": 2}) is None  # another key: no file, no warning


def test_tokenizer_hash_names_the_tokenizer_not_its_folder(tokenizer, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    for name in ("a", "b"):
        tokenizer.save_pretrained(tmp_path / name)
    loaded = [AutoTokenizer.from_pretrained(tmp_path / name) for name in ("a", "b")]
    loaded[0](["the cat", "a big dog sees"], padding=True, truncation=True, max_length=3)  # transient state
    hashes = {score_cache.tokenizer_sha256(t) for t in [tokenizer, *loaded]}
    assert len(hashes) == 1
    loaded[1].chat_template = "{{ messages }}"
    assert score_cache.tokenizer_sha256(loaded[1]) not in hashes
