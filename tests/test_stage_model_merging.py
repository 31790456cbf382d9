"""Notebook 06's study on tiny random models: specialist data, training, merge specs, in-memory = streaming."""

import json
from pathlib import Path

import pytest
import torch

from solar_utils import checkpoints
from solar_utils.config import MergingConfig, MixtureSource, PretrainConfig, TaskVectorMerge, load_preset
from solar_utils.evaluation import dump_source, world_source
from solar_utils.merging import merge_checkpoints
from solar_utils.stages import model_merging
from solar_utils.stages.model_merging import MergeSpec, Scores


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def world(tmp_path) -> Path:
    root = tmp_path / "world"
    write_jsonl(root / "instructions/alpaca.jsonl", [{"instruction": f"Say {i}.", "input": "", "output": str(i)}
                                                     for i in range(3)])
    write_jsonl(root / "instructions/openorca.jsonl",
                [{"id": "o", "system_prompt": "", "question": "Which? A. cat B. dog Answer:", "response": "B"}])
    write_jsonl(root / "corpus/train.jsonl", [{"text": "The cat runs."},
                                              {"text": "Question: 2 + 3?\nAnswer: 2 + 3 = 5.\n#### 5"}])
    write_jsonl(root / "math/seeds.jsonl", [{"problem": "What is $1+1$?", "solution": "$\\boxed{2}$"}])
    return root


SOURCES = [MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl", max_used=2),
           MixtureSource("openorca", "openorca", path="instructions/openorca.jsonl"),
           MixtureSource("math", "math_instruct", kind="stage", path="03_synthetic_math/x.jsonl", optional=True)]


def test_instruction_texts_are_capped_chats_and_skip_a_missing_optional_source(world, tokenizer):
    texts = model_merging.instruction_texts(SOURCES, tokenizer, world, world.parent)
    assert len(texts) == 3
    assert texts[0] == f"### User:\nSay 0.\n\n### Assistant:\n0{tokenizer.eos_token}\n\n"
    assert "A. cat B. dog Answer:\n\n### Assistant:\nB" in texts[2]
    with pytest.raises(ValueError, match="no instruction records"):
        model_merging.instruction_texts(SOURCES[2:], tokenizer, world, world.parent)


def test_math_texts_keep_marked_documents_and_add_the_seeds(world):
    texts = model_merging.math_texts(MergingConfig(), world)
    assert texts == ["Question: 2 + 3?\nAnswer: 2 + 3 = 5.\n#### 5", "Question: What is $1+1$?\nAnswer: $\\boxed{2}$"]
    assert len(model_merging.math_texts(MergingConfig(math_marker="", math_seeds=None), world)) == 2
    with pytest.raises(FileNotFoundError, match="no math seeds"):
        model_merging.math_texts(MergingConfig(math_seeds="math/missing.jsonl"), world)
    with pytest.raises(ValueError, match="no math text"):
        model_merging.math_texts(MergingConfig(math_marker="%%%", math_seeds=None), world)


def test_split_blocks_is_seeded_and_disjoint():
    blocks = torch.arange(40).view(10, 4)
    train, held = model_merging.split_blocks(blocks, 3, seed=1)
    again, _ = model_merging.split_blocks(blocks, 3, seed=1)
    assert held.shape == (3, 4) and train.shape == (7, 4) and torch.equal(train, again)
    assert sorted(torch.cat([train, held])[:, 0].tolist()) == list(range(0, 40, 4))
    with pytest.raises(ValueError, match="cannot keep 10 of 10"):
        model_merging.split_blocks(blocks, 10, seed=1)


def test_train_specialist_starts_from_the_base_and_learns(tiny_model, tokenizer, texts, tmp_path):
    base_dir = checkpoints.save_model(tiny_model, tmp_path / "base", tokenizer=tokenizer)
    cfg = PretrainConfig(max_steps=4, batch_size=4, seq_len=32, learning_rate=1e-2, warmup_steps=0,
                         bf16_autocast=False, eval_every=4, eval_blocks=4, save_every=4)
    model, run = model_merging.train_specialist(base_dir, tokenizer, texts, cfg, tmp_path / "trainer", seed=0)
    assert run.steps == 4 and not model.training
    assert checkpoints.weights_sha256(model) != checkpoints.weights_sha256(base_dir)
    losses = [r["eval_loss"] for r in run.log_history if "eval_loss" in r]
    assert losses and losses[-1] < 6.0


def test_merge_specs_follow_the_preset():
    specs = model_merging.merge_specs(load_preset("tiny").merging)
    assert [s.name for s in specs] == [
        "Average (0.6, 0.4)", "Average (0.5, 0.5)", "Average (0.4, 0.6)", "SLERP (t=0.4)", "SLERP (t=0.5)",
        "SLERP (t=0.6)", "task arithmetic", "TIES", "DARE-TIES"]
    assert specs[0].settings == {"weights": [pytest.approx(0.6), 0.4]} and not specs[0].uses_base
    assert specs[-1].uses_base and specs[-1].settings == {"weights": [1.0, 1.0], "densities": [0.5, 0.5]}
    assert all(name in {s.name for s in specs} | set(model_merging.CANDIDATES) for name in model_merging.PAPER_TABLE7_H6)
    with pytest.raises(ValueError, match="repeats"):
        model_merging.merge_specs(MergingConfig(weights=[0.5, 0.5]))


@pytest.fixture
def trio(tiny_model, tokenizer, tmp_path):
    """A base and two 'specialists' (the base plus different random changes), loaded and saved."""
    models, dirs = [], []
    for i, name in enumerate(("base", "math", "instruction")):
        torch.manual_seed(i)
        model = checkpoints.load_model(checkpoints.save_model(tiny_model, tmp_path / "tmp" / name, overwrite=True))
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * i * torch.randn_like(p))
        dirs.append(checkpoints.save_model(model, tmp_path / name, tokenizer=tokenizer))
        models.append(model)
    return models, dirs


SPECS = [MergeSpec("Average (0.5, 0.5)", "linear", 0.5, {"weights": [0.5, 0.5]}),
         MergeSpec("SLERP (t=0.4)", "slerp", 0.4, {"t": 0.4}),
         MergeSpec("TIES", "ties", None, {"weights": [1.0, 1.0], "densities": [0.5, 0.5]}),
         MergeSpec("DARE-TIES", "dare_ties", None, {"weights": [1.0, 1.0], "densities": [0.5, 0.5]})]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.method)
def test_streaming_recipe_equals_the_in_memory_merge(trio, tmp_path, spec):
    (base, *candidates), (base_dir, *candidate_dirs) = trio
    merged = model_merging.merge_in_memory(spec, candidates, base, seed=3)
    recipe = model_merging.merge_recipe(spec, candidate_dirs, base_dir, seed=3)
    assert (recipe.base_model == str(base_dir)) == spec.uses_base
    out = merge_checkpoints(recipe, tmp_path / "merged")
    assert checkpoints.weights_sha256(out) == checkpoints.weights_sha256(merged)
    assert checkpoints.weights_sha256(merged) not in {checkpoints.weights_sha256(d) for d in trio[1]}


def test_linear_half_is_the_plain_average(trio):
    (base, math_model, instruct_model), _ = trio
    merged = model_merging.merge_in_memory(SPECS[0], [math_model, instruct_model], base, seed=0)
    name = "model.layers.0.mlp.up_proj.weight"
    expected = (math_model.state_dict()[name] + instruct_model.state_dict()[name]) / 2
    torch.testing.assert_close(merged.state_dict()[name], expected)


def test_run_sweep_scores_each_merge_once_and_picks_the_best(trio):
    (base, *candidates), _ = trio
    seen = []

    def score(model):
        seen.append(model)
        return Scores({"mmlu": 0.1 * len(seen), "gsm8k": 0.2}, {"mmlu": 0.01, "gsm8k": 0.02})

    results = model_merging.run_sweep(SPECS[:3], candidates, base, score, seed=0)
    assert list(results) == [s.name for s in SPECS[:3]] and len({id(m) for m in seen}) == 3
    assert model_merging.best_merge(results, SPECS[:3]).name == "TIES"
    assert results["TIES"].mean == pytest.approx(0.25)


def test_results_table_has_stderrs_and_the_papers_h6():
    results = {"base": Scores({"mmlu": 0.25, "gsm8k": 0.0}, {"mmlu": 0.043, "gsm8k": 0.0}),
               "Average (0.5, 0.5)": Scores({"mmlu": 0.5, "gsm8k": 0.3}, {"mmlu": 0.05, "gsm8k": float("nan")})}
    table = model_merging.results_table(results)
    assert list(table.columns) == ["mean", "mmlu", "gsm8k", "paper H6"]
    assert table.loc["base", "mmlu"] == "25.0 ± 4.3" and table.loc["base", "paper H6"] == ""
    assert table.loc["Average (0.5, 0.5)", "paper H6"] == "74.00" and table.loc["Average (0.5, 0.5)", "mean"] == "40.0"
    assert results["Average (0.5, 0.5)"].to_dict()["stderrs"]["gsm8k"] is None


def test_sweep_figure_has_one_panel_per_task():
    specs = model_merging.merge_specs(MergingConfig(weights=[0.0, 0.5, 1.0]))
    results = {name: Scores({"mmlu": 0.3, "gsm8k": 0.1}, {"mmlu": 0.04, "gsm8k": 0.03})
               for name in [*model_merging.CANDIDATES, *(s.name for s in specs)]}
    fig = model_merging.sweep_figure(results, specs, ["mmlu", "gsm8k"])
    assert [ax.get_title() for ax in fig.axes] == ["mmlu", "gsm8k"]
    assert len(fig.axes[0].lines) >= 2


def test_score_model_uses_the_stage_tasks_and_limit(tiny_model, tokenizer, tmp_path):
    dump_source(world_source(1234), tmp_path / "eval", tasks=["mmlu", "gsm8k"])
    preset = load_preset("tiny", {"merging": {"eval_tasks": ["mmlu", "gsm8k"], "eval_limit": 3},
                                  "eval": {"max_gen_toks": 4}})
    scores = model_merging.score_model(tiny_model, tokenizer, preset, tmp_path, seed=0)
    assert set(scores.scores) == {"mmlu", "gsm8k"} and all(0 <= v <= 1 for v in scores.scores.values())
    assert set(scores.stderrs) == {"mmlu", "gsm8k"}


def test_average_spec_names_the_weights_as_table_7():
    assert model_merging.average_spec(0.6) == MergeSpec("Average (0.4, 0.6)", "linear", 0.6, {"weights": [0.4, 0.6]})
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        model_merging.average_spec(1.0)


def test_task_vector_merge_config_reaches_the_spec():
    cfg = MergingConfig(weights=[0.0, 1.0], task_vector_merges=[TaskVectorMerge("TA", "task_arithmetic", [0.5, 2.0])])
    (spec,) = model_merging.merge_specs(cfg)
    assert spec == MergeSpec("TA", "task_arithmetic", None, {"weights": [0.5, 2.0]})


def test_contrast_tasks_are_where_the_candidates_differ_most():
    results = {model_merging.CANDIDATES[0]: Scores({"arc": 0.4, "gsm8k": 0.04, "winogrande": 0.55}, {}),
               model_merging.CANDIDATES[1]: Scores({"arc": 0.42, "gsm8k": 0.0, "winogrande": 0.69}, {})}
    assert model_merging.contrast_tasks(results) == ["winogrande", "gsm8k"]
    assert model_merging.contrast_tasks(results, n=1) == ["winogrande"]
