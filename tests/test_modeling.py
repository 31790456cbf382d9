"""Building the tiny base model, and loading hub-style checkpoints in another architecture."""

import copy
from dataclasses import replace

import pytest
import torch
from conftest import tiny_llama_config
from transformers import LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM

from solar_utils.modeling import ModelSetupError, build_model, describe_model, load_hub_model, load_hub_tokenizer
from solar_utils.tokenizer import SOLAR_CHAT_TEMPLATE


def test_build_model_has_the_presets_shape(tiny_model, tiny_model_config, tokenizer):
    info = describe_model(tiny_model)
    assert info["architecture"] == "LlamaForCausalLM"
    assert (info["layers"], info["hidden_size"], info["kv_heads"]) == (4, 32, 2)
    assert info["vocab_size"] == len(tokenizer)
    assert tiny_model.config.eos_token_id == tokenizer.eos_token_id
    assert tiny_model.config.tie_word_embeddings


def test_build_model_refuses_bad_head_counts(tiny_model_config, tokenizer):
    with pytest.raises(ModelSetupError, match="num_key_value_heads"):
        build_model(replace(tiny_model_config, num_key_value_heads=3), tokenizer)


def _mistral_dir(tmp_path, tokenizer):
    config = tiny_llama_config(4, arch="mistral", vocab_size=len(tokenizer), sliding_window=64,
                               max_position_embeddings=128, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = MistralForCausalLM(config)
    model.save_pretrained(tmp_path / "mistral")
    tokenizer.save_pretrained(tmp_path / "mistral")
    return model, tmp_path / "mistral"


def test_mistral_weights_load_into_llama_exactly(tmp_path, tiny_model_config, tokenizer):
    """The paper's base: Mistral weights in the Llama architecture give the same logits (within the window)."""
    mistral, path = _mistral_dir(tmp_path, tokenizer)
    cfg = replace(tiny_model_config, source="hub", hub_id=str(path), architecture="llama")
    llama = load_hub_model(cfg)
    assert isinstance(llama, LlamaForCausalLM)
    ids = torch.randint(len(tokenizer), (2, 40))
    with torch.no_grad():
        torch.testing.assert_close(llama(ids).logits, mistral(ids).logits, rtol=1e-5, atol=1e-5)


def test_wrong_layer_count_is_named(tmp_path, tiny_model_config, tokenizer):
    _, path = _mistral_dir(tmp_path, tokenizer)
    cfg = replace(tiny_model_config, source="hub", hub_id=str(path), num_hidden_layers=32)
    with pytest.raises(ModelSetupError, match="has 4 layers but the preset expects model.num_hidden_layers = 32"):
        load_hub_model(cfg)


def test_unconvertible_architecture_is_refused(tmp_path, tiny_model_config, tokenizer):
    config = tiny_llama_config(4, arch="qwen2", vocab_size=len(tokenizer))
    Qwen2ForCausalLM(config).save_pretrained(tmp_path / "qwen")
    cfg = replace(tiny_model_config, source="hub", hub_id=str(tmp_path / "qwen"), architecture="llama")
    with pytest.raises(ModelSetupError, match="cannot load a 'qwen2' checkpoint into the 'llama'"):
        load_hub_model(cfg)
    assert load_hub_model(replace(cfg, architecture="auto")).config.model_type == "qwen2"


def test_hub_source_needs_an_id(tiny_model_config):
    with pytest.raises(ModelSetupError, match="hub_id is empty"):
        load_hub_model(replace(tiny_model_config, source="hub", hub_id=None))


def test_a_hub_tokenizer_without_a_chat_template_gets_solars(tmp_path, tiny_model_config, tokenizer):
    backend = copy.deepcopy(tokenizer.backend_tokenizer)
    backend.no_padding()  # (another test may have turned padding on in the shared fixture's backend)
    base = type(tokenizer)(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    assert base.chat_template is None and base.pad_token is None  # as Mistral-7B-v0.1's
    base.save_pretrained(tmp_path / "base")
    cfg = replace(tiny_model_config, source="hub", hub_id=str(tmp_path / "base"))
    loaded = load_hub_tokenizer(cfg)
    assert loaded.chat_template == SOLAR_CHAT_TEMPLATE and loaded.pad_token == "</s>"
    chat = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    assert loaded.apply_chat_template(chat, tokenize=False) == "### User:\nHi?\n\n### Assistant:\nHello.</s>\n\n"
    base.chat_template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    base.save_pretrained(tmp_path / "instruct")
    own = load_hub_tokenizer(replace(cfg, hub_id=str(tmp_path / "instruct")))
    assert own.chat_template == base.chat_template  # a template of its own is kept
