"""Cross-validate the event-clustering settings on the topics of ECB+ train.

ECB+ train's 25 topics are dealt into 5 folds of 5 whole topics, three times (seeds 0, 1,
2): 15 folds. The pipeline runs once on each fold; every setting of the grid below is then
scored on every fold, clustered as a batch of its own (B-cubed F1), with
:mod:`dedup.evaluation.crossval`. Reported per setting or family of settings:

- held-out mean: a fixed setting's mean F1 over the 15 folds;
- nested: for each fold, the setting chosen on the 4 other folds of its split (best mean,
  the one with fewer knobs within 0.002), scored on the fold; the mean of those. This is
  what choosing within the family is worth on topics it was not chosen on.

Candidates for the defaults are the settings that keep the five sample articles of
``data/articles`` as their two events (000-003 and 004). The setting chosen among them
(best held-out mean, fewer knobs within 0.002) replaces the defaults only if its held-out
mean beats theirs by at least 0.005.

Usage::

    python benchmarks/crossval.py [--json benchmarks/results/crossval.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

try:
    from dedup.config import ClusterConfig
except ModuleNotFoundError:
    # Run from a plain checkout without the package installed: import it from the repository.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dedup.config import ClusterConfig
from dedup.evaluation.baseline import threshold_curve
from dedup.evaluation.crossval import (
    Batch,
    choose,
    cluster_batch,
    nested_choices,
    prepare_batch,
    prepare_files,
    score_batch,
    topic_folds,
)
from dedup.evaluation.ecbplus import load_benchmark

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "articles"
K = 5
SEEDS = (0, 1, 2)
CANDIDATES = "all keeping the sample's two events (candidates)"
MARGIN = 0.005
"""Least gain in held-out mean F1 for which a chosen setting replaces the defaults."""

# ----------------------------------------------------------------------------------- the grid

STORY_THRESHOLDS = (0.06, 0.08, 0.10, 0.12, 0.15)
STORY_WEIGHTS = {
    "sw-tuned": (0.35, 0.25, 0.40, 0.0, 0.0),
    "sw-equal3": (1.0, 1.0, 1.0, 0.0, 0.0),
    "sw-body": (1.0, 0.0, 0.0, 0.0, 0.0),
}
EVENT_THRESHOLDS = (0.03, 0.05, 0.07, 0.10)
EVENT_WEIGHTS = {
    "ew-tuned": (0.10, 0.10, 0.30, 0.30, 0.20),
    "ew-equal5": (1.0, 1.0, 1.0, 1.0, 1.0),
    "ew-equal3": (1.0, 1.0, 1.0, 0.0, 0.0),
}
IDF_OFFSETS = (0.25, 1.0)
SINGLE_THRESHOLDS = tuple(round(0.06 + 0.02 * k, 2) for k in range(13))  # 0.06 .. 0.30
# One stage only: every sub-event of a story is "small" and joins a sibling (mean >= 0).
SINGLE_STAGE = {"min_event_size": 10**9, "absorb_threshold": 0.0, "absorb_place_share": 0.0}
PLACE_OFF = {"absorb_place_share": 0.0, "place_split_share": 0.0}


@dataclass(frozen=True)
class Setting:
    """One point of the grid: its config, its knob count and the families it belongs to."""

    name: str
    config: ClusterConfig
    knobs: int
    families: frozenset[str]


def _weight_knobs(weights: Sequence[float]) -> int:
    """Blocks used, plus one when their weights are not all equal."""
    used = [w for w in weights if w > 0]
    return len(used) + (len(set(used)) > 1)


def knob_count(config: ClusterConfig, single_stage: bool) -> int:
    """Knobs a setting turns: each threshold, each block used (one more for unequal
    weights), an IDF offset other than the usual 1, absorption and each place rule."""
    knobs = 1 + _weight_knobs(config.story_weights)
    if not single_stage:
        knobs += 1 + _weight_knobs(config.event_weights) + (config.event_idf_offset != 1.0)
        if config.min_event_size > 1:
            knobs += 1 + (config.absorb_place_share > 0)
    return knobs + (config.place_split_share > 0)


def build_grid() -> list[Setting]:
    """Every setting scored: the two-stage grid, the single-stage grid and one-knob changes
    of the defaults (the defaults themselves are a point of the two-stage grid)."""
    defaults = ClusterConfig()
    settings: dict[str, Setting] = {}

    def add(name: str, config: ClusterConfig, single: bool, *families: str) -> None:
        families_set = frozenset(families) | {"all"}
        if name in settings:
            families_set |= settings[name].families
        settings[name] = Setting(name, config, knob_count(config, single), families_set)

    for st, sw, et, ew, offset, absorb, place in itertools.product(
        STORY_THRESHOLDS, STORY_WEIGHTS, EVENT_THRESHOLDS, EVENT_WEIGHTS, IDF_OFFSETS, (True, False), (True, False)
    ):
        config = replace(
            defaults,
            story_threshold=st,
            story_weights=STORY_WEIGHTS[sw],
            event_threshold=et,
            event_weights=EVENT_WEIGHTS[ew],
            event_idf_offset=offset,
            min_event_size=defaults.min_event_size if absorb else 1,
            **({} if place else PLACE_OFF),
        )
        families = ["two-stage"]
        families += ["two-stage, place checks off"] if not place else []
        families += ["two-stage, absorb off"] if not absorb else []
        families += ["two-stage, equal weights"] if sw == "sw-equal3" and ew != "ew-tuned" else []
        families += ["two-stage, IDF offset 1"] if offset == 1.0 else []
        name = f"2s st={st} {sw} et={et} {ew} off={offset} absorb={'on' if absorb else 'off'} " \
               f"place={'on' if place else 'off'}"
        families += ["defaults and one-knob changes"] if config == defaults else []
        add(name, config, False, *families)
    for st, sw, place in itertools.product(SINGLE_THRESHOLDS, STORY_WEIGHTS, (True, False)):
        config = replace(defaults, story_threshold=st, story_weights=STORY_WEIGHTS[sw], **SINGLE_STAGE,
                         place_split_share=defaults.place_split_share if place else 0.0)
        families = ["single stage"] + (["single stage, place check off"] if not place else [])
        add(f"1s st={st} {sw} place={'on' if place else 'off'}", config, True, *families)
    for name, change in {
        "defaults, place split off": {"place_split_share": 0.0},
        "defaults, place-aware absorption off": {"absorb_place_share": 0.0},
        "defaults, lead of 1 sentence": {"lead_sentences": 1},
        "defaults, lead of 3 sentences": {"lead_sentences": 3},
    }.items():
        add(name, replace(defaults, **change), False, "defaults and one-knob changes")
    return list(settings.values())


def default_name(settings: Sequence[Setting]) -> str:
    defaults = ClusterConfig()
    return next(s.name for s in settings if s.config == defaults)


# ---------------------------------------------------------------------------------- scoring


def prepare_folds() -> tuple[list[Batch], list[list[str]]]:
    """The 15 fold batches (3 splits of 5) and their raw texts (for the baseline)."""
    articles = load_benchmark("ecbplus-train")
    batches, texts = [], []
    for seed in SEEDS:
        for fold in topic_folds(articles, k=K, seed=seed):
            batches.append(prepare_batch(fold))
            texts.append([a.text for a in fold])
    return batches, texts


def check_fast_path(batches: Sequence[Batch]) -> None:
    """Clustering a prepared batch under the defaults must give the pipeline's own clusters."""
    for k, batch in enumerate(batches):
        ours = cluster_batch(batch, ClusterConfig())
        mapping: dict[Any, str] = {}
        for label, cluster in zip(ours, batch.pipeline_clusters, strict=True):
            if mapping.setdefault(label, cluster) != cluster:
                raise SystemExit(f"fold {k}: clustering a prepared batch differs from the pipeline run")
        if len(set(mapping.values())) != len(mapping):
            raise SystemExit(f"fold {k}: clustering a prepared batch differs from the pipeline run")


def sample_check(sample: Batch) -> Callable[[ClusterConfig], bool]:
    """Whether a config keeps the sample articles as their two events."""
    return lambda config: score_batch(sample, config) == 1.0


def score_all(settings: Sequence[Setting], batches: Sequence[Batch]) -> dict[str, list[float]]:
    scores = {}
    start = time.process_time()
    for n, setting in enumerate(settings, 1):
        scores[setting.name] = [score_batch(b, setting.config) for b in batches]
        if n % 200 == 0:
            print(f"  {n}/{len(settings)} settings, {time.process_time() - start:.0f} s CPU", file=sys.stderr)
    return scores


def baseline_scores(texts: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, list[float]]:
    grid = tuple(round(0.05 + 0.01 * k, 2) for k in range(36))  # 0.05 .. 0.40
    curves = [dict(threshold_curve(list(t), list(g), grid)) for t, g in zip(texts, golds, strict=True)]
    return {f"baseline t={t}": [curve[t] for curve in curves] for t in grid}


# ---------------------------------------------------------------------------------- reporting


def family_rows(
    settings: Sequence[Setting], scores: dict[str, list[float]], baseline: dict[str, list[float]],
    allowed: set[str],
) -> list[dict[str, Any]]:
    knobs = {s.name: s.knobs for s in settings}
    settings = [replace(s, families=s.families | {CANDIDATES}) if s.name in allowed else s for s in settings]
    families = sorted({f for s in settings for f in s.families}, key=lambda f: (f not in ("all", CANDIDATES), f))
    rows = []
    for family in [*families, "baseline (TF-IDF, one threshold)"]:
        if family.startswith("baseline"):
            members, member_knobs = baseline, dict.fromkeys(baseline, 1)
        else:
            members = {s.name: scores[s.name] for s in settings if family in s.families}
            member_knobs = {name: knobs[name] for name in members}
        nested = nested_choices(members, member_knobs, K)
        best = choose(members, member_knobs)
        rows.append({
            "family": family,
            "settings": len(members),
            "nested_mean": float(np.mean([score for _, score in nested])),
            "nested_choices": nested,
            "best_fixed": best.name,
            "best_fixed_mean": best.mean,
            "best_fixed_knobs": best.knobs,
        })
    return rows


def fixed_rows(names: Sequence[str], scores: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [{"setting": n, "mean": float(np.mean(scores[n])), "min": float(np.min(scores[n])),
             "per_split": [float(np.mean(scores[n][s * K:(s + 1) * K])) for s in range(len(SEEDS))]}
            for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write every score and choice to this file")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    batches, texts = prepare_folds()
    check_fast_path(batches)
    sample = prepare_files([SAMPLE], {p.stem: "geneva" if p.name < "004" else "brussels"
                                      for p in sorted(SAMPLE.glob("*.txt"))})
    keeps_sample = sample_check(sample)
    print(f"prepared {len(batches)} folds in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    settings = build_grid()
    defaults = default_name(settings)
    scores = score_all(settings, batches)
    baseline = baseline_scores(texts, [b.gold for b in batches])
    knobs = {s.name: s.knobs for s in settings}

    allowed = {s.name for s in settings if keeps_sample(s.config)}
    chosen = choose({n: scores[n] for n in allowed}, knobs)
    unconstrained = choose(scores, knobs)
    default_mean = float(np.mean(scores[defaults]))
    adopt = chosen.mean >= default_mean + MARGIN

    one_knob = [s.name for s in settings if "defaults and one-knob changes" in s.families and s.name != defaults]
    ablations = [defaults, *one_knob]
    for change in ("off=0.25 absorb=on place=off", "off=0.25 absorb=off place=on", "off=1.0 absorb=on place=on"):
        ablations.append(defaults.replace("off=0.25 absorb=on place=on", change))
    ablations.append(defaults.replace("ew-tuned", "ew-equal5").replace("sw-tuned", "sw-equal3"))
    ablations.append("1s st=0.08 sw-tuned place=on")
    ablations.append("baseline t=0.15")
    all_scores = scores | baseline

    result = {
        "folds": {"k": K, "seeds": list(SEEDS), "sizes": [len(b.ids) for b in batches]},
        "defaults": defaults,
        "defaults_mean": default_mean,
        "families": family_rows(settings, scores, baseline, allowed),
        "fixed": fixed_rows(ablations, all_scores),
        "keeps_sample": sorted(allowed),
        "chosen": chosen.__dict__,
        "chosen_config": next(s.config for s in settings if s.name == chosen.name).__dict__,
        "best_unconstrained": unconstrained.__dict__,
        "adopt": adopt,
        "margin": MARGIN,
        "scores": all_scores,
        "seconds": time.perf_counter() - start,
    }
    print("| family | settings | nested held-out F1 | best fixed setting | its held-out F1 | knobs |")
    print("|---|---:|---:|---|---:|---:|")
    for row in result["families"]:
        print(f"| {row['family']} | {row['settings']} | {row['nested_mean']:.3f} | {row['best_fixed']} | "
              f"{row['best_fixed_mean']:.3f} | {row['best_fixed_knobs']} |")
    print()
    print("| setting | held-out F1 (mean of 15) | worst fold | per split |")
    print("|---|---:|---:|---|")
    for row in result["fixed"]:
        print(f"| {row['setting']} | {row['mean']:.3f} | {row['min']:.3f} | "
              f"{' / '.join(f'{v:.3f}' for v in row['per_split'])} |")
    print()
    print(f"defaults: {defaults} held-out {default_mean:.3f}")
    print(f"settings keeping the sample's two events: {len(allowed)} of {len(settings)}")
    print(f"chosen: {chosen.name} held-out {chosen.mean:.3f} ({chosen.knobs} knobs); "
          f"best without the sample check: {unconstrained.name} {unconstrained.mean:.3f}")
    print(f"adopt (gain >= {MARGIN}): {adopt}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
