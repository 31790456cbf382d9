"""Synth. Math-Instruct and Synth. Math-Alignment (SOLAR, arXiv 2312.15166, section 3), in the MetaMath manner.

    seeds, bad = load_seeds(cfg, world_dir)                      # MATH-schema seeds (never GSM8K)
    generations = make_rephraser(cfg).generate(seeds, cfg.methods, cfg.samples_per_method, seed)
    verified, wrong = verify_generations(generations, seeds)     # boxed answer == seed's, by sympy
    unique, dups = deduplicate(verified, cfg.near_dup_ngram, cfg.near_dup_threshold)
    clean, leaks = decontaminate(unique, Decontaminator(load_eval_sets(cfg.source, world_dir), cfg.decontam_ngram))
    write_outputs(stage_dir, funnel, clean, seeds, generator, cfg.methods)

Modules: ``seeds``, ``grammar`` (the tiny world's paraphrase grammar), ``rephrase``, ``verify``, ``clean``, ``write``.
"""

from solar_utils.mathsynth.clean import Decontaminator, decontaminate, deduplicate, load_eval_sets
from solar_utils.mathsynth.records import Generation, Removed, first_per_reason
from solar_utils.mathsynth.rephrase import (METHODS, ModelRephraser, Rephraser, RuleRephraser, make_rephraser,
                                            unanswered)
from solar_utils.mathsynth.seeds import Seed, SeedError, load_seeds, to_seeds
from solar_utils.mathsynth.verify import check_answer, extract_boxed, verify_generations
from solar_utils.mathsynth.write import (ALIGNMENT_FILE, INSTRUCT_FILE, EmptyResultError, Funnel, alignment_records,
                                         funnel_figure, instruct_records, length_histograms, write_outputs)

__all__ = ["ALIGNMENT_FILE", "INSTRUCT_FILE", "METHODS", "Decontaminator", "EmptyResultError", "Funnel", "Generation",
           "ModelRephraser", "Rephraser", "Removed", "RuleRephraser", "Seed", "SeedError", "alignment_records",
           "check_answer", "decontaminate", "deduplicate", "extract_boxed", "first_per_reason", "funnel_figure",
           "instruct_records", "length_histograms", "load_eval_sets", "load_seeds", "make_rephraser", "to_seeds",
           "unanswered", "verify_generations", "write_outputs"]
