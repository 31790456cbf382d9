"""Alignment: preference converters and bad inputs, sDPO chunking, implicit rewards against trl's, DPO with full
fine-tuning, LoRA and QLoRA, the sDPO reference handover and resume (tiny random Llamas, CPU, offline)."""

import dataclasses
import json
import math
import shutil

import pytest
import torch
from conftest import make_tiny_model, sentences
from transformers import TrainerCallback

from solar_utils.alignment import (
    AlignmentError,
    convert_source,
    easiness,
    gamma,
    load_preferences,
    one_shot_dpo,
    partition,
    reward_stats,
    run_dpo,
    run_sdpo,
    to_preference,
)
from solar_utils.checkpoints import load_model, save_model, weights_sha256
from solar_utils.config import AlignmentConfig, MixtureSource
from solar_utils.records import MixtureError, RecordError
from solar_utils.tokenizer import train_tokenizer

LOG2 = math.log(2)
LAYERS = 2  # the tiny shape with 2 layers


def _save(tokenizer, path, seed=0):
    model = make_tiny_model(LAYERS, tokenizer=tokenizer, seed=seed)
    return save_model(model, path, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory, tokenizer):
    return _save(tokenizer, tmp_path_factory.mktemp("sft") / "model")


def _pairs(n, seed=0):
    """Pairs with one consistent preference (answers that agree with the question over answers that do not)."""
    return [to_preference({"prompt": s, "chosen": f"Yes. {s}", "rejected": "No, the dog runs."}, "math_alignment")
            for s in sentences(n, seed=seed)]


def _cfg(**over):
    base = AlignmentConfig(steps=2, beta=0.1, learning_rate=2e-3, max_steps_per_step=4, batch_size=4, max_length=64,
                           warmup_steps=0, eval_every=1, save_every=2, heldout_per_source=4)
    return dataclasses.replace(base, **over)


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


# ---- converters ------------------------------------------------------------------------------------------------


def test_each_schema_becomes_a_conversational_pair(tokenizer):
    orca = to_preference({"system": "Be brief.", "question": "Q?", "chosen": "Good.", "rejected": "Bad."}, "orca_dpo")
    assert orca == {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}],
                    "chosen": [{"role": "assistant", "content": "Good."}],
                    "rejected": [{"role": "assistant", "content": "Bad."}]}
    assert to_preference({"system": "", "question": "Q?", "chosen": "a", "rejected": "b"}, "orca_dpo")["prompt"] == [
        {"role": "user", "content": "Q?"}]
    uf = to_preference({"prompt": "Q?", "prompt_id": "x", "score_chosen": 9.0, "score_rejected": 2.0,
                        "chosen": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "Good."}],
                        "rejected": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "Bad."}]},
                       "ultrafeedback")
    assert uf == to_preference({"system": "", "question": "Q?", "chosen": "Good.", "rejected": "Bad."}, "orca_dpo")
    math_pair = to_preference({"prompt": "2+2?", "chosen": "2+2 = 4. #### 4", "rejected": "4", "provenance": {}},
                              "math_alignment")
    assert math_pair["chosen"][0]["content"] == "2+2 = 4. #### 4"
    text = tokenizer.apply_chat_template(orca["prompt"] + orca["chosen"], tokenize=False)
    assert text == f"### System:\nBe brief.\n\n### User:\nQ?\n\n### Assistant:\nGood.{tokenizer.eos_token}\n\n"


@pytest.mark.parametrize("record, schema, message", [
    ({"question": "q", "rejected": "r"}, "orca_dpo", "rec: missing field 'chosen'"),
    ({"question": "q", "chosen": "c", "rejected": "  "}, "orca_dpo", "rec: field 'rejected' is empty"),
    ({"question": 7, "chosen": "c", "rejected": "r"}, "orca_dpo", "rec: field 'question' must be a string, got int"),
    ({"prompt": "p", "chosen": "c", "rejected": [{"role": "assistant", "content": "r"}]}, "ultrafeedback",
     "rec: field 'chosen' must be a non-empty list of chat messages, got str"),
    ({"prompt": "p", "chosen": [{"role": "assistant", "content": "c"}], "rejected": [{"role": "user", "content": "r"}]},
     "ultrafeedback", "rec: the last message of 'rejected' must be the assistant's reply"),
    ({"prompt": "p", "chosen": [{"role": "assistant", "content": ""}], "rejected": [{"role": "assistant",
                                                                                     "content": "r"}]},
     "ultrafeedback", r"rec: chosen\[-1\]: field 'content' is empty"),
    ({"chosen": "c", "rejected": "r"}, "math_alignment", "rec: missing field 'prompt'"),
    (["prompt"], "math_alignment", "rec: a record must be a JSON object, got list"),
])
def test_malformed_records_name_the_record_and_field(record, schema, message):
    with pytest.raises(RecordError, match=message):
        to_preference(record, schema, "rec")


def test_unknown_schema_is_named():
    with pytest.raises(MixtureError, match="unknown preference schema 'alpaca'"):
        to_preference({}, "alpaca")


def test_identical_answers_and_overlong_prompts_are_counted_drops(tokenizer):
    source = MixtureSource("m", "math_alignment")
    records = [{"prompt": "a cat", "chosen": "yes", "rejected": "no"},
               {"prompt": "a dog", "chosen": "the same", "rejected": " the same "},
               {"prompt": " ".join(sentences(20)), "chosen": "yes", "rejected": "no"}]
    pairs, dropped = convert_source(records, source, tokenizer, max_length=64)
    assert len(pairs) == 1 and dropped == {"chosen == rejected": 1, "prompt fills max_length": 1}
    with pytest.raises(RecordError, match="m record 4: missing field 'rejected'"):
        convert_source(records + [{"prompt": "p", "chosen": "c"}], source, tokenizer, max_length=64)


def test_sources_are_held_out_capped_and_optional(tmp_path, tokenizer):
    s = sentences(30)
    _write(tmp_path / "world/orca.jsonl", [{"system": "", "question": q, "chosen": "yes", "rejected": "no"} for q in s]
           + [{"system": "", "question": "q", "chosen": "x", "rejected": "x"}])
    _write(tmp_path / "world/uf.jsonl", [{"prompt": q, "chosen": [{"role": "assistant", "content": "yes"}],
                                          "rejected": [{"role": "assistant", "content": "no"}]} for q in s[:20]])
    sources = [MixtureSource("orca", "orca_dpo", path="orca.jsonl", max_used=10),
               MixtureSource("uf", "ultrafeedback", path="uf.jsonl", weight=0.5),
               MixtureSource("math", "math_alignment", kind="stage", path="03/align.jsonl", optional=True)]
    cfg = _cfg(sources=sources)
    data = load_preferences(cfg, tokenizer, tmp_path / "world", tmp_path / "run", seed=0)
    assert {k: len(v) for k, v in data.train.items()} == {"orca": 10, "uf": 8}
    assert {k: len(v) for k, v in data.heldout.items()} == {"orca": 4, "uf": 4}
    assert data.available == {"orca": 30, "uf": 20} and data.dropped == {"orca": {"chosen == rejected": 1}, "uf": {}}
    assert "'math' skipped" in data.notes[0]
    held = {p["prompt"][-1]["content"] for p in data.heldout["orca"]}
    assert not held & {p["prompt"][-1]["content"] for p in data.train["orca"]}
    assert load_preferences(cfg, tokenizer, tmp_path / "world", tmp_path / "run", seed=0) == data
    with pytest.raises(MixtureError, match="source 'x': unknown dataset schema 'alpaca'"):
        load_preferences(_cfg(sources=[MixtureSource("x", "alpaca", path="orca.jsonl")]), tokenizer,
                         tmp_path / "world", tmp_path / "run", seed=0)


# ---- chunking --------------------------------------------------------------------------------------------------


def _by_source():
    return {name: [f"{name}{i}" for i in range(n)] for name, n in (("a", 5), ("b", 7), ("c", 11))}


def test_partition_sizes_orders_and_errors():
    by_source = _by_source()
    chunks = partition(by_source, 4, "easy_to_hard", accuracy={"a": 0.6, "b": 0.9, "c": 0.7})
    assert [len(c) for c in chunks] == [5, 6, 6, 6]
    assert sum(chunks, []) == by_source["b"] + by_source["c"] + by_source["a"]
    assert sum(partition(by_source, 2, "given"), []) == by_source["a"] + by_source["b"] + by_source["c"]
    shuffled = partition(by_source, 3, "random", seed=1)
    assert [len(c) for c in shuffled] == [7, 8, 8] and sorted(sum(shuffled, [])) == sorted(sum(by_source.values(), []))
    assert partition(by_source, 3, "random", seed=1) == shuffled != partition(by_source, 3, "random", seed=2)
    with pytest.raises(AlignmentError, match="cannot split 23 preference pairs into 24 sDPO steps"):
        partition(by_source, 24, "given")
    with pytest.raises(AlignmentError, match="cannot split 23 preference pairs into 0"):
        partition(by_source, 0, "given")
    with pytest.raises(AlignmentError, match=r"needs the SFT model's accuracy on every source; missing \['c'\]"):
        partition(by_source, 2, "easy_to_hard", accuracy={"a": 0.5, "b": 0.5})
    with pytest.raises(AlignmentError, match="unknown sDPO order 'hard_to_easy'"):
        partition(by_source, 2, "hard_to_easy")


# ---- implicit rewards ------------------------------------------------------------------------------------------


def test_rewards_of_a_model_against_itself_and_swapped_pairs(sft_dir, tokenizer):
    model, pairs = load_model(sft_dir), _pairs(12)
    same = reward_stats(model, model, tokenizer, pairs, beta=0.1, max_length=64)
    assert (same.accuracy, same.margin, same.n) == (0.0, 0.0, 12) and same.loss == pytest.approx(LOG2)
    swapped = [{**p, "chosen": p["rejected"], "rejected": p["chosen"]} for p in pairs]
    acc = easiness(model, tokenizer, {"as given": pairs, "swapped": swapped}, max_length=64)
    assert acc["as given"] + acc["swapped"] == pytest.approx(1.0)
    assert gamma(model, tokenizer, swapped, 64) == pytest.approx(-gamma(model, tokenizer, pairs, 64), abs=1e-4)


# ---- DPO -------------------------------------------------------------------------------------------------------


def test_reference_with_another_tokenizer_is_refused(sft_dir, tokenizer, tmp_path, tiny_model_factory):
    other = train_tokenizer([s.upper() for s in sentences(200)], vocab_size=280, min_frequency=1)
    ref_dir = _save(other, tmp_path / "other")
    with pytest.raises(AlignmentError, match="reference model at .*other was saved with a different tokenizer"):
        run_dpo(sft_dir, tokenizer, _pairs(8), _cfg(), tmp_path / "out", seed=0, ref_dir=ref_dir)
    model = tiny_model_factory(LAYERS, tokenizer=tokenizer, seed=0)
    model.resize_token_embeddings(len(tokenizer) - 10)
    no_tokenizer = save_model(model, tmp_path / "bare")
    with pytest.raises(AlignmentError, match=r"reference model at .*bare has \d+ token embeddings, fewer than"):
        run_dpo(sft_dir, tokenizer, _pairs(8), _cfg(), tmp_path / "out", seed=0, ref_dir=no_tokenizer)
    with pytest.raises(AlignmentError, match="no preference pairs"):
        run_dpo(sft_dir, tokenizer, [], _cfg(), tmp_path / "out", seed=0)
    plain = type(tokenizer)(tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>")
    with pytest.raises(AlignmentError, match="the tokenizer has no chat_template"):
        run_dpo(sft_dir, plain, _pairs(8), _cfg(), tmp_path / "out", seed=0)


def test_one_shot_dpo_lowers_the_loss_and_agrees_with_trl(sft_dir, tokenizer, tmp_path):
    train, heldout = _pairs(24), _pairs(8, seed=5)
    chunks = partition({"all": train}, 2, "given")
    run = one_shot_dpo(sft_dir, tokenizer, chunks, _cfg(), tmp_path / "dpo", seed=0, heldout=heldout)
    assert run.steps == 8 and run.resumed_from is None and run.train_log[-1]["step"] == 8
    sft = load_model(sft_dir)
    after = reward_stats(run.model, sft, tokenizer, train, beta=0.1, max_length=64)
    assert after.loss < LOG2 - 0.05 and after.accuracy > 0.9
    held = reward_stats(run.model, sft, tokenizer, heldout, beta=0.1, max_length=64)
    assert run.heldout["eval_rewards/margins"] == pytest.approx(held.margin, abs=1e-4)
    assert run.heldout["eval_rewards/accuracies"] == pytest.approx(held.accuracy)
    assert run.heldout["eval_loss"] == pytest.approx(held.loss, abs=1e-4)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_adapter_dpo_merges_into_a_standard_model(sft_dir, tokenizer, tmp_path, method):
    train = _pairs(16)
    cfg = _cfg(adapter=dataclasses.replace(AlignmentConfig().adapter, method=method, r=4), learning_rate=5e-3)
    run = run_dpo(sft_dir, tokenizer, train, cfg, tmp_path / method, seed=0)
    assert type(run.model).__name__ == "LlamaForCausalLM" and weights_sha256(run.model) != weights_sha256(sft_dir)
    assert run.model.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    assert run.loss_start == pytest.approx(LOG2, abs=1e-5) and run.loss_end < run.loss_start
    if method == "lora":  # a finished run called again loads its adapters and trains no further step
        again = run_dpo(sft_dir, tokenizer, train, cfg, tmp_path / method, seed=0)
        assert again.steps == run.steps and again.resumed_from.endswith(f"checkpoint-{run.steps}")
        assert weights_sha256(again.model) == weights_sha256(run.model)


# ---- sDPO ------------------------------------------------------------------------------------------------------


class InterruptStep2(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if "step_2" in args.output_dir and state.global_step == 3:
            raise KeyboardInterrupt


def test_sdpo_hands_the_reference_over_and_resumes(sft_dir, tokenizer, tmp_path):
    train = _pairs(32)
    chunks = partition({"all": train}, 2, "given")
    cfg = _cfg()
    run = run_sdpo(sft_dir, tokenizer, chunks, cfg, tmp_path / "a", seed=0)
    first, second = run.steps
    assert first.reference_sha256 == weights_sha256(sft_dir) and first.gamma_reference == first.gamma_sft
    assert second.reference_sha256 == first.model_sha256 != weights_sha256(sft_dir)
    assert second.reference_dir == str(tmp_path / "a/step_1/model")
    assert weights_sha256(run.model_dir) == run.model_sha256 and run.skipped == []
    assert second.gamma_reference > second.gamma_sft  # M_1 already prefers chunk 2's chosen answers
    assert [s.train_steps for s in run.steps] == [4, 4] and first.loss_start == pytest.approx(LOG2, abs=1e-5)
    sft = load_model(sft_dir)
    assert reward_stats(load_model(run.model_dir), sft, tokenizer, train, 0.1, 64).loss < LOG2 - 0.05

    with pytest.raises(KeyboardInterrupt):
        run_sdpo(sft_dir, tokenizer, chunks, cfg, tmp_path / "b", seed=0, callbacks=[InterruptStep2()])
    assert (tmp_path / "b/step_1/model").is_dir() and not (tmp_path / "b/step_2/model").exists()
    resumed = run_sdpo(sft_dir, tokenizer, chunks, cfg, tmp_path / "b", seed=0)
    assert resumed.skipped == [1] and resumed.steps[1].resumed_from.endswith("checkpoint-2")
    assert resumed.model_sha256 == run.model_sha256 == weights_sha256(tmp_path / "b/step_2/model")

    shutil.rmtree(tmp_path / "b/step_2")
    again = run_sdpo(sft_dir, tokenizer, chunks, cfg, tmp_path / "b", seed=0)
    assert again.skipped == [1] and again.model_sha256 == run.model_sha256
    assert run_sdpo(sft_dir, tokenizer, chunks, cfg, tmp_path / "b", seed=0).skipped == [1, 2]
    with pytest.raises(AlignmentError, match="step_1 was trained on other pairs than chunk 1"):
        run_sdpo(sft_dir, tokenizer, chunks[::-1], cfg, tmp_path / "b", seed=0)
