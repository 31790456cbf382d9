"""The shipped presets state only what differs from the dataclass defaults, each override with its reason."""

import copy
import dataclasses
import re
import typing
from pathlib import Path

import pytest
import yaml

from solar_utils.config import PRESET_NAMES, PRESETS_DIR, Preset, PresetError, load_preset

PRESET_FILES = [PRESETS_DIR / f"{name}.yaml" for name in PRESET_NAMES]


def _key_paths(node, path=()):
    """Every key of a YAML tree, as a path of keys (and list indices): sections, values, keys of list items."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(node, dict):
            yield path + (key,)
        yield from _key_paths(value, path + (key,))


def _without(raw, path):
    out = copy.deepcopy(raw)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _load(raw, tmp_path: Path, stem: str):
    path = tmp_path / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_preset(path).to_dict()


def restatements(preset_file: Path, tmp_path: Path) -> list[str]:
    """Keys of ``preset_file`` whose removal leaves the resolved preset unchanged: they restate a default."""
    raw = yaml.safe_load(preset_file.read_text())
    resolved = load_preset(preset_file).to_dict()
    found = []
    for path in _key_paths(raw):
        try:
            same = _load(_without(raw, path), tmp_path, preset_file.stem) == resolved
        except PresetError:  # a required key (description, a source's name...)
            same = False
        if same:
            found.append(".".join(map(str, path)))
    return found


@pytest.mark.parametrize("preset_file", PRESET_FILES, ids=PRESET_NAMES)
def test_presets_state_only_what_differs_from_the_defaults(preset_file, tmp_path):
    assert restatements(preset_file, tmp_path) == []


def test_a_restated_default_is_found(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("description: x\n"
                    "model: {hidden_size: 64, num_hidden_layers: 8}\n"
                    "continued: {train: {max_steps: 60, seq_len: 128}}\n"
                    "dus: {sweep: [0, 1, 2, 3]}\n"
                    "merging: {task_vector_merges: [{name: TA, method: task_arithmetic, weights: [1.0, 1.0]}]}\n")
    assert restatements(mine, tmp_path) == ["model.num_hidden_layers", "continued.train.max_steps", "dus",
                                            "dus.sweep", "merging.task_vector_merges.0.weights"]


def test_tiny_is_the_defaults():
    tiny = load_preset("tiny")
    assert tiny == Preset(name="tiny", description=tiny.description)


def _sections(cls, raw, path=()):
    """Paths of the mappings in ``raw`` that are config sections (dataclasses), ``raw`` itself included."""
    yield path
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        if isinstance(value, dict) and dataclasses.is_dataclass(hints[key]):
            yield from _sections(hints[key], value, path + (key,))


@pytest.mark.parametrize("preset_file", PRESET_FILES, ids=PRESET_NAMES)
def test_an_unknown_key_anywhere_in_a_shipped_preset_is_an_error(preset_file, tmp_path):
    raw = yaml.safe_load(preset_file.read_text())
    load_preset(preset_file)  # the shipped file itself has only known keys
    for path in _sections(Preset, raw):
        bad = copy.deepcopy(raw)
        node = bad
        for key in path:
            node = node[key]
        node["no_such_key"] = 1
        with pytest.raises(PresetError, match=r"unknown key\(s\) \['no_such_key'\]"):
            _load(bad, tmp_path, preset_file.stem)


def unexplained_lines(text: str) -> list[str]:
    """Lines that set a value without a reason: no ``#`` comment on the line itself nor on a comment line above it
    in the same block. A comment's block runs until a blank line, a line indented less than the comment, or a
    section header (``key:`` alone) not directly below it. Section headers need no reason; a flow mapping's
    continuation lines share its first line's."""
    missing, scope, open_brackets, covered, after_comment = [], None, 0, True, False
    for line in text.splitlines():
        content = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].rstrip()
        indent = len(line) - len(line.lstrip())
        header = open_brackets == 0 and re.fullmatch(r"\s*[\w-]+:", content)
        if not line.strip() or scope is not None and (indent < scope or header and not after_comment):
            scope = None
        after_comment = bool(line.strip()) and not content
        if not line.strip():
            continue
        if not content:  # a comment line
            scope = indent
            continue
        if open_brackets == 0:  # the first line of a value
            covered = bool(header) or scope is not None or content != line.rstrip()
        elif content != line.rstrip():
            covered = True
        if not covered:
            missing.append(line.strip())
        open_brackets += sum(content.count(c) for c in "{[") - sum(content.count(c) for c in "}]")
    return missing


@pytest.mark.parametrize("preset_file", PRESET_FILES, ids=PRESET_NAMES)
def test_every_override_has_a_reason(preset_file):
    assert unexplained_lines(preset_file.read_text()) == []


def test_a_line_without_a_reason_is_found():
    text = ("# header\n"
            "description: x\n"
            "\n"
            "model:\n"
            "  hidden_size: 64  # reason\n"
            "  num_hidden_layers: 4\n"
            "  # a reason for the block\n"
            "  max_position_embeddings: 128\n"
            "  dtype: bfloat16\n"
            "\n"
            "  rope_theta: 1.0\n"
            "dus:\n"
            "  # reason\n"
            "  sweep: [0,\n"
            "          1]\n"
            "  m: 1\n"
            "continued:\n"
            "  train: {max_steps: 1,  # reason\n"
            "          seq_len: 8}\n"
            "  eval_limit: 0\n"
            "# a reason for the instruct section\n"
            "instruct:\n"
            "  # a reason for the sources\n"
            "  sources:\n"
            "    - {name: a, schema: alpaca}\n"
            "  variants:\n"
            "    - {name: v1, sources: [a]}\n"
            "align:\n"
            "  beta: 0.2\n")
    assert unexplained_lines(text) == ["num_hidden_layers: 4", "rope_theta: 1.0", "eval_limit: 0",
                                       "- {name: v1, sources: [a]}", "beta: 0.2"]
