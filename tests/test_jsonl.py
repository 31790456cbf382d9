"""The one JSONL reader/writer: round trip, blank lines, errors naming file and line, atomic and byte-exact writes."""

import json
import re

import pytest

from solar_utils.jsonl import JsonlError, dumps_jsonl, read_jsonl, write_jsonl

ROWS = [{"text": "café — naïve ☕"}, {"n": 1, "nested": {"list": [1, 2.5, None, True]}},
        {"text": "a line\u2028separator and a \x85 next-line inside a string"}]


def test_round_trip_keeps_order_and_non_ascii(tmp_path):
    path = write_jsonl(tmp_path / "deep" / "rows.jsonl", ROWS)
    assert path == tmp_path / "deep" / "rows.jsonl"
    assert read_jsonl(path) == ROWS
    assert "café — naïve ☕" in path.read_text(encoding="utf-8")


def test_writes_one_json_dumps_per_line_byte_for_byte(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", iter(ROWS))
    expected = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS).encode("utf-8")
    assert path.read_bytes() == expected == dumps_jsonl(ROWS).encode("utf-8")
    assert write_jsonl(tmp_path / "empty.jsonl", []).read_bytes() == b""


def test_write_is_atomic(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", ROWS[:1])

    def failing():
        yield ROWS[1]
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        write_jsonl(path, failing())
    with pytest.raises(TypeError):
        write_jsonl(path, [{"not json": object()}])
    assert read_jsonl(path) == ROWS[:1]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"], "no temporary file is left behind"


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('\n{"a": 1}\n   \n\n{"a": 2}\n\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_a_bad_line_names_the_file_the_line_and_the_reason(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,}\n', encoding="utf-8")
    with pytest.raises(JsonlError, match=rf"^{re.escape(str(path))}:3: not valid JSON \(Expecting property name .* at column 9\)$"):
        read_jsonl(path)
    assert issubclass(JsonlError, ValueError)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"no JSONL file at {tmp_path / 'nope.jsonl'}")):
        read_jsonl(tmp_path / "nope.jsonl")
