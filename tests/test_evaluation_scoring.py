"""H6 evaluator with a tiny random Llama: tokenisation split, exact log-likelihoods, batching, outputs, CLI."""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

import pytest
import torch

from solar_utils import paper
from solar_utils.checkpoints import CheckpointError, save_model
from solar_utils.config import EvalConfig
from solar_utils.evaluation import (TASKS, EvalResult, HubSource, MemorySource, Scorer, evaluate, preset_source,
                                    score_models)
from solar_utils.evaluation.cli import register
from solar_utils.evaluation.sources import dump_source
from solar_utils.evaluation.toy import build_model, build_tokenizer, toy_setup
from solar_utils.evaluation.evaluator import take
from solar_utils.evaluation.tasks import get_task


@pytest.fixture(scope="module")
def toy():
    return toy_setup(seed=0, n_eval=6)


@pytest.fixture(scope="module")
def reference(toy) -> EvalResult:
    """All six tasks at the leaderboard's shot counts, batch 16, shared prefixes."""
    items, tokenizer, model = toy
    return evaluate(model, tokenizer, source=MemorySource(items), batch_size=16, max_gen_toks=24, progress=False)


def _direct_loglikelihood(model, context_ids: list[int], cont_ids: list[int], max_length: int) -> float:
    """log p(continuation | context) from one plain forward pass, truncated as the harness does."""
    inputs = (context_ids + cont_ids)[-(max_length + 1):][:-1]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([inputs])).logits[0].float(), dim=-1)
    positions = range(len(inputs) - len(cont_ids), len(inputs))
    return float(sum(logp[p, t] for p, t in zip(positions, cont_ids, strict=True)))


def test_split_moves_trailing_spaces_and_slices_after_the_context_tokens() -> None:
    tokenizer = build_tokenizer(["the cats sat on a mat"] * 50 + ["a cat ran"] * 50, vocab_size=300)
    assert tokenizer.tokenize("the cats") == ["the", "Ġcats"]
    assert tokenizer.tokenize("the cat") == ["the", "Ġcat"]
    scorer = Scorer(build_model(tokenizer), tokenizer, progress=False)
    (ctx, cont), (ctx2, cont2) = scorer.encode_pairs([("the cat", "s sat"), ("the cats ", "sat")])
    whole = tokenizer("the cats sat")["input_ids"]
    assert ctx == tokenizer("the cat")["input_ids"] and ctx[0] == tokenizer.bos_token_id
    assert cont == whole[len(ctx):] == tokenizer.convert_tokens_to_ids(["Ġsat"])
    assert ctx + tokenizer("s sat", add_special_tokens=False)["input_ids"] != whole
    assert (ctx2, cont2) == (tokenizer("the cats")["input_ids"], tokenizer.convert_tokens_to_ids(["Ġsat"]))
    assert scorer.encode_pairs([("", "a cat")]) == [([tokenizer.bos_token_id],
                                                     tokenizer("a cat", add_special_tokens=False)["input_ids"])]


@pytest.mark.parametrize("max_length", [None, 24])
def test_loglikelihoods_equal_a_plain_forward_pass(toy, max_length: int | None) -> None:
    items, tokenizer, model = toy
    scorer = Scorer(model, tokenizer, batch_size=3, max_length=max_length, progress=False)
    groups = [[("Ada gave Bo the map because Ada", " sells it."), ("Ada gave Bo the map because Bo", " sells it.")],
              [("Question: What?\nAnswer:", " apple kite"), ("Question: What?\nAnswer:", " apple"),
               ("Question: What?\nAnswer:", " drum")],
              [("Bo finds the", " bell at the barn")]]
    got = scorer.loglikelihoods(groups)
    pairs = scorer.encode_pairs([r for g in groups for r in g])
    expected = [_direct_loglikelihood(model, c, x, scorer.max_length) for c, x in pairs]
    assert [v for g in got for v in g] == pytest.approx(expected, abs=1e-4)


def test_shared_prefix_path_equals_the_naive_path(toy, reference: EvalResult) -> None:
    items, tokenizer, model = toy
    naive = evaluate(model, tokenizer, TASKS[:5], source=MemorySource(items), batch_size=16, share_prefix=False,
                     progress=False)
    for task in TASKS[:5]:
        for a, b in zip(reference.samples[task], naive.samples[task], strict=True):
            assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=1e-4)
            assert a["prediction"] == b["prediction"]
        assert reference.scores[task] == pytest.approx(naive.scores[task], abs=1e-6)


def test_packing_is_checked_and_falls_back_when_masks_are_ignored(toy, monkeypatch: pytest.MonkeyPatch) -> None:
    items, tokenizer, model = toy
    groups = [[("Question: Who?\nAnswer:", " apple kite"), ("Question: Who?\nAnswer:", " drum bell")]] * 3
    honest = Scorer(model, tokenizer, progress=False)
    expected = Scorer(model, tokenizer, share_prefix=False, progress=False).loglikelihoods(groups)
    assert honest.loglikelihoods(groups) == [pytest.approx(e, abs=1e-4) for e in expected] and honest.packing
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda input_ids, attention_mask=None, position_ids=None, **kwargs:
                        forward(input_ids=input_ids, **kwargs))
    blind = Scorer(model, tokenizer, batch_size=2, progress=False)
    with pytest.warns(UserWarning, match="does not honour custom 4D attention masks"):
        got = blind.loglikelihoods(groups)
    assert blind.packing is False and got == [pytest.approx(e, abs=1e-4) for e in expected]


def test_mmlu_costs_one_forward_pass_per_batch_of_items(toy) -> None:
    items, tokenizer, model = toy
    calls = []
    hook = model.register_forward_hook(lambda module, args, kwargs, out: calls.append(1), with_kwargs=True)
    try:
        evaluate(model, tokenizer, ["mmlu"], source=MemorySource(items), batch_size=4, progress=False)
        assert len(calls) == 2  # 6 items, 24 requests: two passes of ≤ 4 items, no suffix passes
        calls.clear()
        evaluate(model, tokenizer, ["mmlu"], source=MemorySource(items), batch_size=4, share_prefix=False,
                 progress=False)
        assert len(calls) == 6  # 24 requests in passes of 4
    finally:
        hook.remove()


def test_batch_size_and_padding_side_do_not_change_predictions(toy, reference: EvalResult) -> None:
    items, tokenizer, model = toy
    tokenizer.padding_side = "left"
    try:
        single = evaluate(model, tokenizer, source=MemorySource(items), batch_size=1, max_gen_toks=24,
                          progress=False)
    finally:
        tokenizer.padding_side = "right"
    for task in TASKS:
        for a, b in zip(reference.samples[task], single.samples[task], strict=True):
            assert a["prediction"] == b["prediction"]
            if "loglikelihoods" in a:
                assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=1e-4)
            else:
                assert a["generation"] == b["generation"]


def test_generation_stops_at_the_first_stop_string(toy) -> None:
    items, tokenizer, model = toy
    scorer = Scorer(model, tokenizer, batch_size=2, progress=False)
    contexts = ["Question: Ada has 3 bags of 4 maps. How many?\nAnswer:", "Question: Bo?\nAnswer:"]
    full = scorer.generate(contexts, until=[], max_gen_toks=12)
    assert all(len(text) > 6 for text in full)
    stop = full[0][4:6]
    cut = scorer.generate(contexts, until=[stop], max_gen_toks=12)
    assert cut == [text.split(stop)[0] for text in full]
    with pytest.raises(ValueError, match="max_gen_toks 1024 leaves no room"):
        scorer.generate(contexts, until=[], max_gen_toks=1024)


def test_evaluate_records_scores_and_files(toy, reference: EvalResult, tmp_path: Path) -> None:
    items, tokenizer, model = toy
    assert reference.h6 == pytest.approx(sum(reference.scores.values()) / 6)
    arc = reference.samples["arc"][0]
    assert set(arc) >= {"context", "continuations", "loglikelihoods", "prediction", "gold", "acc", "acc_norm"}
    assert reference.scores["arc"] == pytest.approx(sum(r["acc_norm"] for r in reference.samples["arc"]) / 6)
    subjects = reference.subscores["mmlu"]
    assert reference.scores["mmlu"] == pytest.approx(sum(subjects.values()) / len(subjects))
    assert set(reference.samples["gsm8k"][0]) >= {"generation", "prediction", "exact_match", "gold"}
    path = reference.write(tmp_path)
    summary = json.loads(path.read_text())
    assert summary["h6"] == pytest.approx(reference.h6) and summary["n_items"]["gsm8k"] == 6
    assert summary["settings"]["num_fewshot"] == {"arc": 25, "hellaswag": 10, "mmlu": 5, "truthfulqa": 0,
                                                  "winogrande": 5, "gsm8k": 5}
    lines = (tmp_path / "samples_winogrande.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == reference.samples["winogrande"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"] + [f"samples_{t}.jsonl" for t in
                                                                             sorted(TASKS)]


def test_overrides_limits_and_training_mode(toy) -> None:
    items, tokenizer, model = toy
    model.train()
    result = evaluate(model, tokenizer, ["arc", "winogrande"], source=MemorySource(items),
                      num_fewshot={"arc": 2}, limit={"winogrande": 3}, progress=False)
    assert model.training
    model.eval()
    assert result.settings["num_fewshot"] == {"arc": 2, "winogrande": 5} and result.h6 is None
    assert len(result.samples["arc"]) == 6 and len(result.samples["winogrande"]) == 3
    assert result.samples["arc"][0]["context"].count("Question:") == 3
    with pytest.raises(ValueError, match="unknown task 'mmlu_pro'"):
        evaluate(model, tokenizer, ["mmlu_pro"], source=MemorySource(items))
    with pytest.raises(ValueError, match="arc: num_fewshot must be a non-negative integer"):
        evaluate(model, tokenizer, ["arc"], source=MemorySource(items), num_fewshot={"arc": -1})


def test_a_limit_takes_the_first_items_and_for_mmlu_every_subject_in_turn() -> None:
    by_subject = [{"subject": s, "i": i} for s in ("anatomy", "law", "virology") for i in range(4)]  # as on the hub
    assert [(d["subject"], d["i"]) for d in take(get_task("mmlu"), by_subject, 5)] == [
        ("anatomy", 0), ("anatomy", 1), ("law", 0), ("law", 1), ("virology", 0)]  # source order kept
    interleaved = [{"subject": s, "i": i} for i in range(4) for s in ("anatomy", "law", "virology")]  # the world's
    assert take(get_task("mmlu"), interleaved, 7) == interleaved[:7]
    arc = [{"id": str(i)} for i in range(5)]
    assert take(get_task("arc"), arc, 3) == arc[:3] and take(get_task("arc"), arc, None) == arc
    assert take(get_task("mmlu"), by_subject, 99) == by_subject


def test_score_models_is_evaluate_with_the_presets_settings(toy, tmp_path: Path) -> None:
    items, tokenizer, model = toy
    dump_source(MemorySource(items), tmp_path / "world" / "eval")
    settings = EvalConfig(num_fewshot={"arc": 1, "gsm8k": 1}, batch_size=4, max_gen_toks=8)
    checkpoint = save_model(model, tmp_path / "ckpt", tokenizer=tokenizer)
    results = score_models({"in memory": model, "from disk": checkpoint}, tokenizer, settings, tmp_path / "world",
                           seed=3, tasks=["arc", "gsm8k"], limit=4, output_dir=tmp_path / "out")
    direct = evaluate(model, tokenizer, ["arc", "gsm8k"], source=MemorySource(items), num_fewshot=settings.num_fewshot,
                      batch_size=4, limit=4, seed=3, max_gen_toks=8, progress=False)
    for result in results.values():
        assert result.scores == direct.scores and result.samples == direct.samples
        assert result.settings["max_gen_toks"] == 8 and result.settings["limit"] == {"arc": 4, "gsm8k": 4}
    assert (tmp_path / "out" / "from disk" / "results.json").is_file()
    assert results["from disk"].headline() == {**direct.scores, "h6": None}
    assert score_models({"m": model}, tokenizer, settings, tmp_path / "world", seed=3, limit=0) == {}
    assert preset_source(EvalConfig(source="hub"), tmp_path / "world") == HubSource()
    assert preset_source(EvalConfig(source="hub", hub_root="/mirror"), tmp_path / "world").root == "/mirror"
    assert preset_source(settings, tmp_path / "nowhere") == tmp_path / "nowhere" / "eval"
    with pytest.raises(ValueError, match="pass a tokenizer"):
        score_models({"m": model}, None, settings, tmp_path / "world", seed=3, limit=1)


def test_cli_eval_writes_results(toy, tmp_path: Path, capsys) -> None:
    items, tokenizer, model = toy
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    dump_source(MemorySource(items), tmp_path / "data")
    parser = argparse.ArgumentParser(prog="solar-repro")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "data"),
                              "--tasks", "arc,gsm8k", "--shots", "arc=1,gsm8k=1", "--limit", "2",
                              "--max-gen-toks", "8", "--device", "cpu", "--output-dir", str(tmp_path / "out"),
                              "--paper-row", "SOLAR 10.7B-Instruct"])
    assert args.func(args) == 0
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert summary["n_items"] == {"arc": 2, "gsm8k": 2} and summary["settings"]["num_fewshot"]["gsm8k"] == 1
    arc = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("arc"))
    paper_arc = paper.figure("table2", "SOLAR 10.7B-Instruct", "arc")
    assert arc.split()[-2:] == [f"{paper_arc:.2f}", f"{100 * summary['scores']['arc'] - paper_arc:+.2f}"]
    args.paper_row, args.output_dir = "SOLAR 11B", tmp_path / "out2"
    with pytest.raises(ValueError, match="Table 2 has no such row; rows: 'SOLAR 10.7B-Instruct'"):
        args.func(args)
    assert not (tmp_path / "out2").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--model", "m", "--output-dir", "o", "--tasks", "arc,drop"])


def test_cli_eval_refuses_bad_folders_before_scoring_and_a_rerun_replaces_its_results(toy, tmp_path: Path) -> None:
    items, tokenizer, model = toy
    save_model(model, tmp_path / "model", tokenizer=tokenizer)
    dump_source(MemorySource(items), tmp_path / "data")
    parser = argparse.ArgumentParser(prog="solar-repro")
    register(parser.add_subparsers(dest="command", required=True))

    def run(model_dir: Path, out: Path, tasks: str = "arc,gsm8k") -> int:
        args = parser.parse_args(["eval", "--model", str(model_dir), "--data", str(tmp_path / "data"), "--tasks", tasks,
                                  "--limit", "2", "--max-gen-toks", "4", "--device", "cpu", "--output-dir", str(out)])
        return args.func(args)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((tmp_path / "model" / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(CheckpointError, match="refused on purpose"):
        run(pickled, tmp_path / "out")
    with pytest.raises(CheckpointError, match="does not exist"):
        run(tmp_path / "no-such-model", tmp_path / "out")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        run(tmp_path / "model", tmp_path / "a-file")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep")
    with pytest.raises(ValueError, match="holds other files"):
        run(tmp_path / "model", tmp_path / "mine")
    assert not (tmp_path / "out").exists() and (tmp_path / "mine" / "thesis.tex").read_text() == "keep"
    assert run(tmp_path / "model", tmp_path / "out") == 0 and run(tmp_path / "model", tmp_path / "out", "arc") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.json", "samples_arc.jsonl"]


def test_cli_preset_builds_the_presets_world(toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items, tokenizer, model = toy
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    world_config = object()
    built = {}

    def build_world(config: object, seed: int) -> MemorySource:
        built.update(config=config, seed=seed)
        return MemorySource(items)

    preset = types.SimpleNamespace(data=types.SimpleNamespace(world=world_config))
    monkeypatch.setitem(sys.modules, "solar_utils.world", types.SimpleNamespace(build_world=build_world))
    monkeypatch.setitem(sys.modules, "solar_utils.config", types.SimpleNamespace(load_preset=lambda name: preset))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["eval", "--model", str(tmp_path / "model"), "--preset", "tiny", "--world-seed", "9",
                              "--tasks", "winogrande", "--device", "cpu", "--output-dir", str(tmp_path / "out")])
    assert args.func(args) == 0
    assert built == {"config": world_config, "seed": 9}
    assert " at 0x" not in json.loads((tmp_path / "out" / "results.json").read_text())["settings"]["source"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["n_items"] == {"winogrande": 6}
    args = parser.parse_args(["eval", "--model", "m", "--output-dir", "o"])
    with pytest.raises(ValueError, match="give --data DIR"):
        args.func(args)
