"""The data layer's one resolver (world | stage | hub) and the records read through it, offline; the layering that
keeps alignment and the stages off training internals."""

import ast
import itertools
import json
import re
from pathlib import Path

import pytest

import solar_utils
from solar_utils import data, mixing, records
from solar_utils.config import MixtureSource
from solar_utils.jsonl import write_jsonl
from solar_utils.records import MixtureError, RecordError, read_records, skipped_note

PACKAGE = Path(solar_utils.__file__).parent
ALPACA = [{"instruction": f"Say {i}.", "input": "", "output": str(i)} for i in range(3)]


@pytest.fixture
def dirs(tmp_path):
    world, run = tmp_path / "world", tmp_path / "run"
    write_jsonl(world / "instructions/alpaca.jsonl", ALPACA)
    write_jsonl(run / "03_synthetic_math/math.jsonl", [{"instruction": "1+1?", "response": "2", "provenance": {}}])
    return world, run


# ---- the resolver -------------------------------------------------------------------------------------------


def test_source_file_resolves_world_and_stage_paths(tmp_path):
    assert data.source_file("world", "a/b.jsonl", tmp_path / "w", tmp_path / "r") == tmp_path / "w" / "a/b.jsonl"
    assert data.source_file("stage", "03/x.jsonl", tmp_path / "w", tmp_path / "r") == tmp_path / "r" / "03/x.jsonl"
    with pytest.raises(ValueError, match="source 'x' is in the tiny world: pass world_dir"):
        data.source_file("world", "a.jsonl", None, tmp_path, what="source 'x'")
    with pytest.raises(ValueError, match="pass run_dir"):
        data.source_file("stage", "a.jsonl", tmp_path, None)
    with pytest.raises(ValueError, match="a 'hub' source has no local file"):
        data.source_file("hub", "org/name", tmp_path, tmp_path)


def test_read_world_file_says_which_notebook_writes_it(tmp_path):
    write_jsonl(tmp_path / "math/seeds.jsonl", [{"problem": "p"}])
    assert data.read_world_file(tmp_path, "math/seeds.jsonl", "math seeds") == [{"problem": "p"}]
    with pytest.raises(FileNotFoundError, match=r"no math seeds at .*missing.jsonl: run notebook 00 first"):
        data.read_world_file(tmp_path, "missing.jsonl", "math seeds")


def test_hub_dataset_calls_the_loader_as_datasets_does(monkeypatch):
    calls = []

    def loader(path, name, split, **kwargs):
        calls.append((path, name, split, kwargs))
        return [{"text": "x"}]

    assert data.hub_dataset("org/set", "cfg", "test", loader=loader) == [{"text": "x"}]
    data.hub_dataset("org/set", split="train", streaming=True, loader=loader)
    assert calls == [("org/set", "cfg", "test", {}), ("org/set", None, "train", {"streaming": True})]
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", loader)
    data.hub_dataset("org/default")
    assert calls[-1] == ("org/default", None, "train", {})


# ---- records of a MixtureSource -------------------------------------------------------------------------------


def test_world_and_stage_sources_read_their_files(dirs):
    world, run = dirs
    alpaca = MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl")
    math = MixtureSource("math", "math_instruct", kind="stage", path="03_synthetic_math/math.jsonl")
    assert read_records(alpaca, world, run) == ALPACA
    assert read_records(math, world, run) == [{"instruction": "1+1?", "response": "2", "provenance": {}}]
    assert records.convert(ALPACA[:1], alpaca) == [{"prompt": [{"role": "user", "content": "Say 0."}],
                                                    "completion": [{"role": "assistant", "content": "0"}]}]


def test_missing_optional_and_bad_sources(dirs):
    world, run = dirs
    optional = MixtureSource("m", "math_instruct", kind="stage", path="03/none.jsonl", optional=True)
    assert read_records(optional, world, run) is None
    assert "source 'm' skipped: 03/none.jsonl does not exist yet" in skipped_note(optional)
    with pytest.raises(MixtureError, match="source 'm': no file at .*03/none.jsonl"):
        read_records(MixtureSource("m", "math_instruct", kind="stage", path="03/none.jsonl"), world, run)
    with pytest.raises(MixtureError, match="source 'x': unknown dataset schema 'dolly'"):
        read_records(MixtureSource("x", "dolly", kind="hub", path="never/loaded"), world, run)
    with pytest.raises(ValueError, match="source 'alpaca' is in the tiny world: pass world_dir"):
        read_records(MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl"), None, run)
    bad = world / "instructions/alpaca.jsonl"
    bad.write_text(bad.read_text() + '{"instruction": \n', encoding="utf-8")
    with pytest.raises(RecordError, match=rf"source 'alpaca': {re.escape(str(bad))}:4: not valid JSON"):
        read_records(MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl"), world, run)


def test_hub_sources_go_through_datasets_load_dataset(tmp_path, monkeypatch):
    import datasets

    local = tmp_path / "hub"
    write_jsonl(local / "train.jsonl", ALPACA)
    real, calls = datasets.load_dataset, []

    def local_load(path, name=None, split=None, **kwargs):
        calls.append((path, name, split, kwargs))
        return real("json", data_files={split: str(local / f"{split}.jsonl")}, split=split,
                    cache_dir=str(tmp_path / "cache"))

    monkeypatch.setattr(datasets, "load_dataset", local_load)
    source = MixtureSource("alpaca", "alpaca", kind="hub", path="vicgalle/alpaca-gpt4")
    assert read_records(source, None, None) == ALPACA
    assert calls == [("vicgalle/alpaca-gpt4", None, "train", {"streaming": True})]
    injected = read_records(source, None, None, loader=lambda path, name, split, streaming: [{"path": path}])
    assert injected == [{"path": "vicgalle/alpaca-gpt4"}]


def test_a_hub_source_streams_and_stops_at_its_cap_and_the_held_out_rows():
    pulled = []

    def endless(path, name, split, streaming):
        assert streaming
        for i in itertools.count():
            pulled.append(i)
            yield {"i": i}

    capped = MixtureSource("orca", "openorca", kind="hub", path="Open-Orca/OpenOrca", max_used=5)
    assert read_records(capped, None, None, loader=endless, extra=3) == [{"i": i} for i in range(8)]
    assert len(pulled) == 8  # not one row more than it keeps


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


@pytest.mark.parametrize("module", ["alignment/preferences.py", "alignment/rewards.py", "alignment/sdpo.py",
                                    "alignment/dpo.py", "stages/model_merging.py", "stages/alignment_sdpo.py"])
def test_alignment_and_stages_do_not_import_the_sft_mixture(module):
    assert "solar_utils.training.mixture" not in _imports(PACKAGE / module)


def test_every_jsonl_file_is_read_and_written_through_solar_utils_jsonl():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "jsonl.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "json.loads(line" not in text and 'ensure_ascii=False) + "\\n" for' not in text, path


def test_dumps_matches_what_the_world_writes(tmp_path):
    from solar_utils.world import WorldConfig, build_world

    world = build_world(WorldConfig(n_math_seeds=8), seed=3)
    out = world.write(tmp_path / "w")
    manifest = json.loads((out / "MANIFEST.json").read_text())
    for rel, rows in world.files().items():
        assert (out / rel).read_bytes() == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        assert manifest["files"][rel]["records"] == len(rows)
