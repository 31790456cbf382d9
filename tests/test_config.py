"""Presets load into typed configs; unknown presets, keys and wrongly typed values are clear errors."""

import dataclasses
from pathlib import Path

import pytest

from solar_utils.config import PRESET_NAMES, ContinuedPretrainConfig, EvalConfig, Preset, PresetError, load_preset


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_loads(name):
    preset = load_preset(name)
    assert isinstance(preset, Preset) and preset.name == name
    assert 0 <= preset.dus.m < preset.model.num_hidden_layers / 2


def test_paper_preset_is_mistral_in_llama_with_n32_m8():
    paper = load_preset("paper")
    assert paper.model.hub_id == "mistralai/Mistral-7B-v0.1"
    assert paper.model.architecture == "llama"
    assert (paper.model.num_hidden_layers, paper.dus.m) == (32, 8)
    assert 2 * (paper.model.num_hidden_layers - paper.dus.m) == 48


def test_tiny_keeps_the_papers_ratio_offline():
    tiny = load_preset("tiny")
    assert tiny.model.source == "scratch" and tiny.tokenizer.source == "train"
    assert {tiny.data.pretrain.kind, tiny.data.heldout.kind} == {"world"}
    n, m = tiny.model.num_hidden_layers, tiny.dus.m
    assert (n, m) == (8, 2) and 2 * (n - m) / n == 48 / 32


def test_unknown_preset_names_the_choices():
    with pytest.raises(PresetError, match="unknown preset 'huge'.*tiny, small, paper"):
        load_preset("huge")


def test_unknown_key_is_named(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("description: x\nmodel: {hiden_size: 64}\n")
    with pytest.raises(PresetError, match=r"unknown key\(s\) \['hiden_size'\].*hidden_size"):
        load_preset(path)


@pytest.mark.parametrize("yaml_text, message", [
    ("description: x\npretrain: {max_steps: ten}\n", "max_steps: expected int"),
    ("description: x\nmodel: {source: cloud}\n", "'cloud' is not one of"),
    ("description: x\ndus: {sweep: 3}\n", "sweep: expected a list"),
    ("description: x\nmodel: {tie_word_embeddings: 1}\n", "expected bool"),
    ("- a\n- b\n", "must hold a mapping"),
    ("description: [unclosed\n", "not valid YAML"),
])
def test_bad_values_are_clear_errors(tmp_path: Path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(PresetError, match=message):
        load_preset(path)


def test_overrides_merge_and_are_checked():
    preset = load_preset("tiny", {"pretrain": {"max_steps": 7}, "dus": {"sweep": [1]}})
    assert preset.pretrain.max_steps == 7 and preset.dus.sweep == [1]
    assert preset.pretrain.batch_size == load_preset("tiny").pretrain.batch_size
    with pytest.raises(PresetError, match="unknown key"):
        load_preset("tiny", {"pretrain": {"max_stepz": 7}})


def test_integers_are_accepted_as_floats_but_not_the_reverse():
    assert load_preset("tiny", {"pretrain": {"learning_rate": 1}}).pretrain.learning_rate == 1.0
    with pytest.raises(PresetError, match="expected int"):
        load_preset("tiny", {"pretrain": {"max_steps": 1.5}})


def test_section_validation_errors_name_the_file(tmp_path: Path):
    path = tmp_path / "w.yaml"
    path.write_text("description: x\ndata: {world: {n_people: 1}}\n")
    with pytest.raises(PresetError, match="w.yaml:data:world: WorldConfig.n_people must be between 4"):
        load_preset(path)


def test_a_nested_section_merges_over_its_places_default(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("description: x\ncontinued: {train: {max_steps: 300}, adapter: {r: 4}}\n")
    continued = load_preset(path).continued
    default = ContinuedPretrainConfig()
    assert continued.train == dataclasses.replace(default.train, max_steps=300)
    assert continued.train.eval_on_start and continued.train.learning_rate == 1e-3  # not PretrainConfig's defaults
    assert continued.adapter == dataclasses.replace(default.adapter, r=4)
    assert continued.compare == default.compare
    assert load_preset("tiny", {"continued": {"train": {"max_steps": 300}, "adapter": {"r": 4}}}).continued == continued


def test_lists_and_plain_mappings_are_replaced_whole(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("description: x\neval: {num_fewshot: {arc: 1}}\ndus: {sweep: [1]}\n")
    preset = load_preset(path)
    assert preset.eval.num_fewshot == {"arc": 1} and preset.dus.sweep == [1]
    assert load_preset(path, {"eval": {"num_fewshot": {"mmlu": 2}}}).eval.num_fewshot == {"mmlu": 2}
    assert load_preset("tiny", {"eval": {"num_fewshot": {}}}).eval.num_fewshot == {}
    assert load_preset("tiny").eval.num_fewshot == EvalConfig().num_fewshot != {}
