"""The benchmark filter: training records sharing a 13-word sequence with an evaluation item are dropped."""

import pytest
from hub_fixture import write_dataset

from solar_utils.benchmark_filter import BenchmarkFilter
from solar_utils.config import MixtureSource, load_preset
from solar_utils.evaluation import MemorySource, dump_source
from solar_utils.evaluation.toy import toy_items
from solar_utils.records import read_records
from solar_utils.world.overlap import overlap_text

PRESET = load_preset("tiny")


@pytest.fixture
def world(tmp_path):
    items = toy_items(seed=3)
    dump_source(MemorySource(items), tmp_path / "world" / "eval")
    return tmp_path / "world", items


def test_a_record_holding_an_evaluation_item_is_dropped_and_counted_by_task(world) -> None:
    world_dir, items = world
    question = overlap_text("gsm8k", items["gsm8k"][0][0])  # what a leaked copy would hold
    keep = BenchmarkFilter.for_preset(PRESET, world_dir)
    assert keep({"instruction": "Answer this.", "input": question.upper(), "output": "42"}) is False
    chat = {"prompt": "Please help", "chosen": [{"role": "user", "content": f"Q: {question}"}], "rejected": []}
    assert keep(chat) is False  # found inside chat turns too
    assert keep({"instruction": "Name a fruit.", "output": "An apple."}) is True
    assert keep.dropped == {"gsm8k": 2}
    words = question.split()
    assert keep({"instruction": " ".join(words[:5]), "output": " ".join(words[5:])}) is False  # across fields
    assert len(words) > 13 and keep({"instruction": " ".join(words[:12])}) is True  # 12 shared words are not 13


def test_hub_sources_are_filtered_while_streaming_so_the_cap_counts_kept_rows(world, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    world_dir, items = world
    leaked = overlap_text("arc", items["arc"][0][1])
    rows = [{"id": str(i), "system_prompt": "", "question": q, "response": "r"}
            for i, q in enumerate(["q0", leaked, "q2", "q3"])]
    write_dataset(tmp_path / "orca", {None: {"train": rows}})
    source = MixtureSource("orca", "openorca", kind="hub", path=str(tmp_path / "orca"), max_used=2)
    keep = BenchmarkFilter.for_preset(PRESET, world_dir)
    assert [r["question"] for r in read_records(source, None, None, keep=keep)] == ["q0", "q2"]
    assert keep.dropped == {"arc": 1}
    assert [r["question"] for r in read_records(source, None, None)] == ["q0", leaked]


def test_the_tiny_worlds_training_records_pass_the_filter(tmp_path) -> None:
    """The world is built disjoint from its evaluation items, so at tiny the filter drops nothing."""
    from solar_utils.world import build_world

    world = build_world(PRESET.data.world, seed=5)
    world.write(tmp_path / "world")
    keep = BenchmarkFilter.for_preset(PRESET, tmp_path / "world")
    for source in PRESET.instruct.sources[:2]:
        everything = read_records(source, tmp_path / "world", None)
        assert len(everything) > 1000 and read_records(source, tmp_path / "world", None, keep=keep) == everything
    assert keep.dropped == {}
