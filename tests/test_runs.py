import json

import pytest

from solar_utils import runs

CLAIM = {"claim": "surgery costs quality", "ours": "+0.080 ± 0.004 nats", "verdict": "reproduced"}


def test_what_we_measured_shows_the_headline_then_each_claims_verdict():
    text = runs.what_we_measured({"headline": {"held-out loss, base": 0.73561, "recovered at step": None,
                                               "best merge": "linear|0.5"},
                                  "claims": {"dus-cost": CLAIM}, "curve": [[1, 2.0]] * 500})
    lines = text.splitlines()
    assert lines[:3] == ["| measure | value |", "|---|---|", "| held-out loss, base | 0.7356 |"]
    assert "| recovered at step | — |" in lines and "| best merge | linear\\|0.5 |" in lines
    assert lines[-1] == "- **dus-cost**: +0.080 ± 0.004 nats — *reproduced*"
    assert len(lines) < 12, "the stage's other metrics stay in metrics.json"


def test_what_we_measured_without_numbers_says_so():
    assert runs.what_we_measured({"funnel": {}}) == "This stage recorded no headline numbers."


def test_a_stage_writes_metrics_and_a_manifest_with_its_seed(tmp_path):
    stage = runs.start_stage("00_base_model", "tiny", 7, tmp_path / "00_base_model")
    stage.record_data("notes", tmp_path)
    stage.finish({"headline": {"x": 1.0}})
    manifest = json.loads(stage.path("manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["preset"]["name"] == "tiny" and len(manifest["data_sha256"]["notes"]) == 64
    assert json.loads(stage.path("metrics.json").read_text()) == {"headline": {"x": 1.0}}


def test_a_missing_earlier_stage_names_the_notebook_to_run(tmp_path):
    stage = runs.start_stage("04_instruction_tuning", "tiny", 0, tmp_path / "04_instruction_tuning")
    with pytest.raises(runs.MissingStageError, match="notebooks/02_continued_pretraining.ipynb"):
        stage.require("02_continued_pretraining", "model")
