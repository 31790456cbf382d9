"""The claims registry and the verdicts of measurements against its rules."""

import math

import pytest

from solar_utils import claims, paper
from solar_utils.evaluation.paired import Difference

STAGES = ("00_base_model", "01_depth_up_scaling", "02_continued_pretraining", "03_synthetic_math",
          "04_instruction_tuning", "05_alignment_sdpo", "06_model_merging", "07_evaluation")
ISSUE_CLAIMS = ("dus-shape", "dus-cost", "dus-recovery", "dus-beats-base", "dus-vs-control", "sft-format", "sft-math",
                "sft-merge", "dpo-lift", "dpo-math", "sdpo-vs-dpo", "sdpo-reference", "merge-beats", "merge-method",
                "decontam")


def test_the_registry_holds_every_claim_with_a_known_notebook_and_rule():
    registry = claims.registry()
    assert set(ISSUE_CLAIMS) <= set(registry)
    for claim in registry.values():
        assert claim.notebook in STAGES and claim.rule["kind"] in ("positive", "all_positive", "exact", "at_most")
        assert claim.claim and claim.source and claim.measure and claim.unit
        assert "{" not in claim.paper_figure  # every reference resolved
    assert [c.notebook for c in registry.values()] == sorted(c.notebook for c in registry.values())


def test_paper_figures_come_from_paper_yaml():
    figure = claims.get("dus-beats-base").paper_figure
    assert figure == f"H6 {paper.figure('table2', 'SOLAR 10.7B', 'h6'):g} vs {paper.figure('table2', 'Mistral 7B', 'h6'):g}"


@pytest.mark.parametrize(("value", "stderr", "verdict"), [(0.05, 0.01, "reproduced"), (0.01, 0.01, "unresolved"),
                                                          (-0.05, 0.01, "not reproduced"), (0.05, math.nan, "unresolved")])
def test_a_positive_rule_needs_two_paired_errors(value, stderr, verdict):
    record = claims.judge("sft-math", Difference(value, stderr, 300))
    assert record["verdict"] == verdict and record["value"] == value and record["items"] == 300
    assert record["paper"] == claims.get("sft-math").paper_figure and record["notebook"] == "04_instruction_tuning"
    assert "2 paired standard errors" in record["rule"]


def test_ours_is_shown_in_the_claims_units():
    record = claims.judge("sft-math", Difference(0.123, 0.0111, 300))
    assert record["ours"] == "+12.3 ± 1.1 points"
    record = claims.judge("dus-beats-base", [Difference(0.0123, 0.001, 24), Difference(0.03, 0.01, 600)],
                          units=["nats", "points"])
    assert record["ours"] == "+0.012 ± 0.001 nats; +3.0 ± 1.0 points" and record["verdict"] == "reproduced"
    assert record["value"] == [0.0123, 0.03] and record["items"] == [24, 600]


def test_all_positive_is_reproduced_only_when_every_difference_is():
    good, flat, bad = Difference(0.1, 0.01, 9), Difference(0.0, 0.01, 9), Difference(-0.1, 0.01, 9)
    assert claims.judge("dus-cost", [good, good])["verdict"] == "reproduced"
    assert claims.judge("dus-cost", [good, flat])["verdict"] == "unresolved"
    assert claims.judge("dus-cost", [good, bad])["verdict"] == "not reproduced"
    assert claims.judge("dus-cost", [good, good], holds=False)["verdict"] == "not reproduced"
    with pytest.raises(ValueError, match="takes one Difference"):
        claims.judge("sft-math", [good, good])


def test_exact_and_at_most_rules():
    assert claims.judge("decontam", 0)["verdict"] == "reproduced"
    assert claims.judge("decontam", 3)["verdict"] == "not reproduced"
    shape = {"layers": 48, "dus_b": 10.732}
    assert claims.judge("dus-shape", shape, expected=dict(shape))["verdict"] == "reproduced"
    assert claims.judge("dus-shape", shape, expected={"layers": 47, "dus_b": 10.732})["verdict"] == "not reproduced"
    assert claims.judge("dus-recovery", 35, bound=60)["verdict"] == "reproduced"
    never = claims.judge("dus-recovery", None, bound=60)
    assert never["verdict"] == "not reproduced" and never["ours"] == "never" and "at most 60" in never["rule"]
    with pytest.raises(ValueError, match="needs a numeric bound"):
        claims.judge("dus-recovery", 35)  # the registry's bound names the run's steps: the notebook passes it


def test_unknown_claims_and_the_table():
    with pytest.raises(KeyError, match="no claim 'dus-magic'"):
        claims.judge("dus-magic", 1)
    records = {"decontam": claims.judge("decontam", 0)}
    text = claims.table(records)
    assert text.splitlines()[0] == "| claim | paper | ours | verdict |" and "| reproduced |" in text
    assert claims.claims_of("07_evaluation") == [claims.get("decontam")]
