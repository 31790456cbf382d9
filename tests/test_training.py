"""Training stages: schema converters, the mixer, bad inputs, the 4-bit gradient guard, LoRA/QLoRA merging,
and resume of continued pretraining and SFT (tiny random models, offline)."""

import dataclasses
import json

import pytest
import torch
from conftest import make_tiny_model, sentences
from transformers import AutoModelForCausalLM, TrainerCallback

from solar_utils.checkpoints import load_model, save_model
from solar_utils.config import (REPLAY, AdapterConfig, InstructConfig, MixtureSource, MixtureVariant, TextSource,
                                load_preset)
from solar_utils.data import pack_blocks
from solar_utils.mixing import Mixture, mix, split_heldout
from solar_utils.records import MixtureError, RecordError, to_chat
from solar_utils.stages.instruction_tuning import mixture_table
from solar_utils.training import (
    continue_pretraining,
    guard_4bit,
    instruction_tune,
    load_for_training,
    load_pools,
    recovery_step,
    runnable_variants,
    trained_as,
    variant_mixture,
)
from solar_utils.training.sft import as_text, check_trainable

CPU = torch.device("cpu")
TRAIN = {"max_steps": 8, "batch_size": 4, "seq_len": 32, "warmup_steps": 1, "eval_every": 4, "eval_blocks": 4,
         "save_every": 4, "bf16_autocast": False, "eval_on_start": True}


class Interrupt(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 5:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, tokenizer):
    model = make_tiny_model(2, hidden=64, tokenizer=tokenizer, seed=0)
    return save_model(model, tmp_path_factory.mktemp("base") / "model", tokenizer=tokenizer)


# ---- schema converters -----------------------------------------------------------------------------------


def test_alpaca_openorca_and_math_become_chat(tokenizer):
    alpaca = to_chat({"instruction": "Name a pet.", "input": "Pick one.", "output": "A cat."}, "alpaca")
    assert alpaca["prompt"] == [{"role": "user", "content": "Name a pet.\n\nPick one."}]
    assert alpaca["completion"] == [{"role": "assistant", "content": "A cat."}]
    assert to_chat({"instruction": "Hi", "input": "", "output": "Hello"}, "alpaca")["prompt"][0]["content"] == "Hi"
    orca = to_chat({"id": "x", "system_prompt": "Be brief.", "question": "Q?", "response": "R."}, "openorca")
    assert [m["role"] for m in orca["prompt"]] == ["system", "user"]
    assert len(to_chat({"system_prompt": "", "question": "Q?", "response": "R."}, "openorca")["prompt"]) == 1
    math = to_chat({"instruction": "2+2?", "response": "4", "provenance": {"seed": 1}}, "math_instruct")
    text = tokenizer.apply_chat_template(orca["prompt"] + orca["completion"], tokenize=False)
    assert text == f"### System:\nBe brief.\n\n### User:\nQ?\n\n### Assistant:\nR.{tokenizer.eos_token}\n\n"
    assert math["completion"][0]["content"] == "4"


@pytest.mark.parametrize("record, schema, message", [
    ({"instruction": "a", "input": ""}, "alpaca", "rec: missing field 'output'"),
    ({"instruction": "a", "output": "   "}, "alpaca", "rec: field 'output' is empty"),
    ({"instruction": 3, "output": "b"}, "alpaca", "rec: field 'instruction' must be a string, got int"),
    ({"system_prompt": None, "question": "q", "response": "r"}, "openorca", "field 'system_prompt' must be a string"),
    ({"question": "q", "response": ""}, "openorca", "field 'response' is empty"),
    (["instruction"], "alpaca", "rec: a record must be a JSON object, got list"),
])
def test_malformed_records_name_the_record_and_field(record, schema, message):
    with pytest.raises(RecordError, match=message.replace("(", r"\(")):
        to_chat(record, schema, "rec")


def test_unknown_schema_is_named():
    with pytest.raises(MixtureError, match="unknown dataset schema 'sharegpt'"):
        to_chat({"a": 1}, "sharegpt")


# ---- the mixer -------------------------------------------------------------------------------------------


def _pool(name, n):
    return [to_chat({"instruction": f"{name} {i}", "output": "ok"}, "alpaca") for i in range(n)]


def test_mixer_caps_weights_and_is_deterministic():
    pools = {"a": _pool("a", 100), "b": _pool("b", 50), "c": _pool("c", 10)}
    sources = [MixtureSource("a", "alpaca", max_used=40), MixtureSource("b", "alpaca", weight=0.5),
               MixtureSource("c", "alpaca", weight=2.0, max_used=5)]
    mixed = mix(pools, sources, seed=1)
    assert mixed.used == {"a": 40, "b": 25, "c": 10} and mixed.available == {"a": 100, "b": 50, "c": 10}
    users = [e["prompt"][0]["content"] for e in mixed.examples]
    assert len(users) == 75 and {u for u in users if u.startswith("a ")} == {f"a {i}" for i in range(40)}
    assert sorted(u for u in users if u.startswith("c ")) == sorted([f"c {i}" for i in range(5)] * 2)
    assert mix(pools, sources, seed=1).examples == mixed.examples != mix(pools, sources, seed=2).examples
    with pytest.raises(MixtureError, match="source 'a': weight must be >= 0"):
        mix(pools, [MixtureSource("a", "alpaca", weight=-1.0)], seed=1)


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _instruct(**over):
    sources = [MixtureSource("alpaca", "alpaca", path="alpaca.jsonl"),
               MixtureSource("orca", "openorca", path="orca.jsonl", max_used=10),
               MixtureSource("math", "math_instruct", kind="stage", path="03/math.jsonl", optional=True)]
    variants = [MixtureVariant("v1", ["alpaca"]), MixtureVariant("v2", ["alpaca", "orca"]),
                MixtureVariant("v4", ["alpaca", "math"])]
    return dataclasses.replace(InstructConfig(sources=sources, variants=variants, heldout_per_source=4,
                                              max_steps=2, batch_size=2, replay=None), **over)


def test_pools_hold_out_examples_and_skip_a_missing_optional_source(tmp_path):
    _write(tmp_path / "alpaca.jsonl", [{"instruction": f"i{k}", "input": "", "output": "o"} for k in range(30)])
    _write(tmp_path / "orca.jsonl", [{"system_prompt": "", "question": f"q{k}", "response": "r"} for k in range(30)])
    cfg = _instruct()
    pools = load_pools(cfg, tmp_path, tmp_path, seed=0)
    assert len(pools.train["alpaca"]) == 26 and len(pools.heldout) == 8 and "math" not in pools.train
    assert "'math' skipped" in pools.notes[0]
    held = {e["prompt"][-1]["content"] for e in pools.heldout}
    assert not held & {e["prompt"][-1]["content"] for e in pools.train["alpaca"] + pools.train["orca"]}
    assert runnable_variants(cfg, pools) == ["v1", "v2"]  # v4 without math is v1 again
    assert trained_as(cfg, pools, "v4") == "v1" and trained_as(cfg, pools, "v2") == "v2"
    assert variant_mixture(cfg, "v2", pools, seed=0).used == {"alpaca": 26, "orca": 10}
    _write(tmp_path / "03/math.jsonl", [{"instruction": f"m{k}", "response": "r", "provenance": "x"}
                                        for k in range(10)])
    assert runnable_variants(cfg, load_pools(cfg, tmp_path, tmp_path, seed=0)) == ["v1", "v2", "v4"]


def test_replayed_documents_join_every_mixture_as_text(tmp_path, tokenizer):
    _write(tmp_path / "alpaca.jsonl", [{"instruction": f"i{k}", "input": "", "output": "o"} for k in range(30)])
    _write(tmp_path / "orca.jsonl", [{"system_prompt": "", "question": f"q{k}", "response": "r"} for k in range(30)])
    _write(tmp_path / "corpus/train.jsonl", [{"text": f"doc {k}."} for k in range(9)])
    cfg = _instruct(replay=TextSource(max_docs=5))
    pools = load_pools(cfg, tmp_path, tmp_path, seed=0)
    assert pools.replay == [{"prompt": "", "completion": f"doc {k}."} for k in range(5)]
    for variant in ("v1", "v2"):
        mixture = variant_mixture(cfg, variant, pools, seed=0)
        assert mixture.used[REPLAY] == mixture.available[REPLAY] == 5
        assert sum(isinstance(e["prompt"], str) for e in mixture.examples) == 5
    assert as_text(pools.replay[0], tokenizer) == pools.replay[0]
    chat = as_text(pools.train["alpaca"][0], tokenizer)
    whole = tokenizer.apply_chat_template(pools.train["alpaca"][0]["prompt"] + pools.train["alpaca"][0]["completion"],
                                          tokenize=False)
    assert chat["prompt"].endswith("### Assistant:\n") and whole.startswith(chat["prompt"] + chat["completion"])
    assert chat["completion"] == "o" + tokenizer.eos_token  # trl adds no second end-of-sequence


def test_bad_mixture_settings_are_named(tmp_path):
    _write(tmp_path / "alpaca.jsonl", [{"instruction": "i", "input": "", "output": "o"}] * 3)
    with pytest.raises(MixtureError, match="'alpaca' has 3 records, too few to hold out 4"):
        load_pools(_instruct(), tmp_path, tmp_path, seed=0)
    _write(tmp_path / "alpaca.jsonl", [{"instruction": "i", "input": "", "output": "o"}] * 9 + [{"instruction": "x"}])
    with pytest.raises(RecordError, match="alpaca record 10: missing field 'output'"):
        load_pools(_instruct(), tmp_path, tmp_path, seed=0)
    with pytest.raises(MixtureError, match="source 'orca': no file at"):
        _write(tmp_path / "alpaca.jsonl", [{"instruction": "i", "input": "", "output": "o"}] * 9)
        load_pools(_instruct(), tmp_path, tmp_path, seed=0)
    bad = _instruct(sources=[MixtureSource("x", "dolly", path="alpaca.jsonl")])
    with pytest.raises(MixtureError, match="source 'x': unknown dataset schema 'dolly'"):
        load_pools(bad, tmp_path, tmp_path, seed=0)
    with pytest.raises(MixtureError, match="variant 'v9'"):
        variant_mixture(_instruct(variants=[MixtureVariant("v9", ["nope"])]), "v9", None, seed=0)


def test_split_heldout_is_seeded():
    pool = _pool("a", 20)
    assert split_heldout(pool, 5, 0, "a") == split_heldout(pool, 5, 0, "a") != split_heldout(pool, 5, 1, "a")


def test_sft_refuses_missing_chat_template_and_too_few_examples(tokenizer):
    cfg = _instruct(max_steps=10, batch_size=4)
    with pytest.raises(MixtureError, match="fewer than instruct.max_steps × instruct.batch_size = 10 × 4 = 40"):
        check_trainable(tokenizer, 39, cfg, "v1")
    plain = type(tokenizer)(tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>")
    with pytest.raises(MixtureError, match="v1: the tokenizer .* has no chat_template"):
        check_trainable(plain, 100, cfg, "v1")


# ---- adapters and the 4-bit guard ---------------------------------------------------------------------------


def _lora_grads(tokenizer, base_dir, generate_first: bool, guard: bool = True) -> list[torch.Tensor]:
    """LoRA gradients of one training step of a fresh QLoRA model, optionally after a ``generate``."""
    import bitsandbytes as bnb

    torch.manual_seed(0)  # the same LoRA initialisation every time
    model = load_for_training(base_dir, AdapterConfig(method="qlora", r=4), CPU)
    for layer in model.modules():
        if isinstance(layer, bnb.nn.Linear4bit) and not guard:
            layer.support_avx512bf16_for_cpu = True  # undo the guard
    ids = torch.tensor([tokenizer("the cat sees a dog and a bird").input_ids])
    if generate_first:
        model.eval()
        model.generate(input_ids=ids, max_new_tokens=3, do_sample=False)
        model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    return [p.grad for n, p in model.named_parameters() if "lora_" in n]


def test_qlora_gradients_survive_a_prior_generate(base_dir, tokenizer):
    reference = _lora_grads(tokenizer, base_dir, generate_first=False)
    after = _lora_grads(tokenizer, base_dir, generate_first=True)
    assert after and all(g is not None for g in after) and sum(g.abs().sum() for g in after) > 0
    for a, b in zip(after, reference, strict=True):
        torch.testing.assert_close(a, b)


def test_without_the_guard_generate_breaks_gradients(base_dir, tokenizer):
    from bitsandbytes.functional import has_avx512bf16

    if not has_avx512bf16():
        pytest.skip("the bitsandbytes trap needs an AVX512-bf16 CPU")
    reference = _lora_grads(tokenizer, base_dir, generate_first=False, guard=False)
    with pytest.warns(UserWarning, match="autograd kernel was not registered"):
        broken = _lora_grads(tokenizer, base_dir, generate_first=True, guard=False)
    assert any(g is None or not torch.allclose(g, r, atol=1e-6) for g, r in zip(broken, reference, strict=True))
    assert guard_4bit(torch.nn.Linear(2, 2)) == 0


# ---- continued pretraining: merge and resume ---------------------------------------------------------------


def _continue(base_dir, tokenizer, out, method, callbacks=None):
    cfg = load_preset("tiny", {"continued": {"train": TRAIN, "adapter": {"r": 4}}}).continued
    blocks = pack_blocks(tokenizer, sentences(200, seed=1), seq_len=32)
    return continue_pretraining(base_dir, blocks[4:], blocks[:4], cfg, out, seed=3, method=method,
                                callbacks=callbacks)


def test_lora_run_resumes_exactly_and_merges_into_a_standard_checkpoint(base_dir, tokenizer, tmp_path):
    straight = _continue(base_dir, tokenizer, tmp_path / "straight", "lora")
    with pytest.raises(KeyboardInterrupt):
        _continue(base_dir, tokenizer, tmp_path / "resumed", "lora", callbacks=[Interrupt()])
    resumed = _continue(base_dir, tokenizer, tmp_path / "resumed", "lora")
    assert resumed.result.resumed_from.endswith("checkpoint-4") and resumed.result.steps == 8
    finished = _continue(base_dir, tokenizer, tmp_path / "resumed", "lora")  # called again: loads, trains nothing
    assert finished.result.resumed_from.endswith("checkpoint-8") and finished.result.steps == 8
    for other in (resumed, finished):
        for (name, a), (_, b) in zip(straight.model.state_dict().items(), other.model.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert [s for s, _ in straight.curve] == [0, 4, 8] and straight.curve[-1][1] < straight.curve[0][1]
    out = save_model(straight.model, tmp_path / "merged", tokenizer=tokenizer)
    assert sorted(p.name for p in out.iterdir() if "safetensors" in p.name) == ["model.safetensors"]
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([tokenizer("a big red dog").input_ids])
    torch.testing.assert_close(reloaded(input_ids=ids).logits, straight.model(input_ids=ids).logits)
    base = load_model(base_dir)
    assert not torch.equal(base.model.layers[0].mlp.up_proj.weight, reloaded.model.layers[0].mlp.up_proj.weight)


def test_qlora_continued_pretraining_learns_and_merges(base_dir, tokenizer, tmp_path):
    run = _continue(base_dir, tokenizer, tmp_path / "q", "qlora")
    assert type(run.model).__name__ == "LlamaForCausalLM" and run.curve[-1][1] < run.curve[0][1] - 0.01
    assert run.model.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32


def test_recovery_step():
    assert recovery_step([(0, 3.0), (5, 2.5), (10, 1.9), (15, 1.8)], 2.0) == 10
    assert recovery_step([(0, 3.0)], 2.0) is None


# ---- SFT ---------------------------------------------------------------------------------------------------


def test_sft_lowers_heldout_instruction_loss_and_resumes(base_dir, tokenizer, tmp_path):
    examples = [to_chat({"instruction": s, "input": "", "output": s.upper()}, "alpaca")
                for s in sentences(60, seed=2)]
    cfg = _instruct(max_steps=8, batch_size=4, eval_every=4, save_every=4, learning_rate=3e-3, max_length=64)
    straight = instruction_tune(base_dir, tokenizer, examples[8:], examples[:8], cfg, tmp_path / "a", seed=3)
    assert straight.steps == 8 and straight.heldout_loss_after < straight.heldout_loss_before - 0.1
    with pytest.raises(KeyboardInterrupt):
        instruction_tune(base_dir, tokenizer, examples[8:], examples[:8], cfg, tmp_path / "b", seed=3,
                         callbacks=[Interrupt()])
    resumed = instruction_tune(base_dir, tokenizer, examples[8:], examples[:8], cfg, tmp_path / "b", seed=3)
    assert resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.heldout_loss_after == pytest.approx(straight.heldout_loss_after, abs=1e-6)
    finished = instruction_tune(base_dir, tokenizer, examples[8:], examples[:8], cfg, tmp_path / "b", seed=3)
    assert finished.resumed_from.endswith("checkpoint-8") and finished.steps == 8
    assert finished.heldout_loss_after == pytest.approx(straight.heldout_loss_after, abs=1e-6)


def test_mixture_table_lists_used_and_available_per_source():
    table = mixture_table({"v1": Mixture([{}] * 3, {"a": 3}, {"a": 10}),
                           "v2": Mixture([{}] * 5, {"a": 3, "b": 2}, {"a": 10, "b": 4})})
    assert table.splitlines() == ["| variant | a (used / available) | b (used / available) | total |",
                                  "|---|---|---|---|", "| v1 | 3 / 10 | 0 / 0 | 3 |", "| v2 | 3 / 10 | 2 / 4 | 5 |"]


def test_qlora_stores_4bit_weights_in_the_compute_dtype_only_under_fsdp(monkeypatch):
    from solar_utils.training.adapters import quantization_config

    cpu = torch.device("cpu")
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    assert quantization_config(AdapterConfig(method="qlora"), cpu).bnb_4bit_quant_storage == torch.uint8
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what accelerate launch sets with fsdp.yaml
    assert quantization_config(AdapterConfig(method="qlora"), cpu).bnb_4bit_quant_storage == torch.float32
