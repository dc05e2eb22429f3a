"""Score the whole pipeline on labelled articles: event clustering and near-duplicates.

Every evaluation writes the articles to a temporary JSON Lines file, runs
:func:`dedup.pipeline.run_pipeline` on it exactly as a user would, reads the published
``articles.parquet`` back and compares it with the gold labels. Nothing of the pipeline is
re-implemented here, so what is scored is what ships.

- :func:`evaluate_clustering` / :func:`evaluate_benchmark`: predicted event clusters against
  gold events (B-cubed, pairwise, adjusted Rand), with the TF-IDF baseline of
  :mod:`dedup.evaluation.baseline` side by side, the worst merges and splits, and the
  duplicate groups the pipeline formed on the way; with ``duplicates=True``,
  :func:`evaluate_benchmark` adds the two near-duplicate checks below on the same articles.
- :func:`evaluate_near_duplicates`: synthetic syndicated copies
  (:func:`~dedup.evaluation.variants.make_variants`) of real articles; are the copies put in
  their original's duplicate group, and which kinds of change make them missed?
- :func:`evaluate_real_copies`: the real syndicated copies of a corpus (exact word 5-gram
  Jaccard, :func:`~dedup.evaluation.syndicated.find_copies`); are all found, and is nothing
  else merged?
- :func:`format_report`: any of these results as a short text.

Articles the pipeline rejects (no usable text, say) are never left out of the scores: each is
scored as a cluster (or duplicate group) of its own, and the result lists them.

Every result is a plain dict of JSON-able values, so it can be dumped next to a run.

Example:
    >>> from dedup.evaluation.harness import evaluate_benchmark, format_report
    >>> result = evaluate_benchmark("ecbplus-dev")  # doctest: +SKIP
    >>> result["method"]["bcubed_f1"], result["baseline"]["bcubed_f1"]  # doctest: +SKIP
    >>> print(format_report(result))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dedup.config import PipelineConfig
from dedup.errors import InputError
from dedup.evaluation.baseline import BASELINE_THRESHOLD, baseline_cluster
from dedup.evaluation.ecbplus import BENCHMARKS, LabelledArticle, load_benchmark, load_labelled
from dedup.evaluation.metrics import Merge, Split, score_clustering, worst_merges, worst_splits
from dedup.evaluation.syndicated import copy_groups, find_copies, jaccard, shingles
from dedup.evaluation.variants import TRANSFORMS, make_variants
from dedup.pipeline import RunReport, config_dict, run_pipeline
from dedup.text import copy_texts

__all__ = [
    "evaluate_benchmark",
    "evaluate_clustering",
    "evaluate_near_duplicates",
    "evaluate_real_copies",
    "format_report",
]

REJECTED_PREFIX = "rejected:"
"""Prefix of the singleton label given to an article the pipeline rejected."""

# Lists inside a result are capped so that a bad run does not produce a huge report.
_MAX_LISTED = 25


# ------------------------------------------------------------------------- running the pipeline


@dataclass(frozen=True)
class _Run:
    """What one pipeline run said about every input article.

    ``cluster``, ``dup_group`` and ``text`` (the cleaned headline and body, as duplicate
    detection compares them: :func:`dedup.text.copy_text`) cover the accepted articles;
    ``rejected`` maps every input id missing from ``articles.parquet`` to the reason given.
    """

    cluster: dict[str, str]
    dup_group: dict[str, str]
    text: dict[str, str]
    headline: dict[str, str]
    rejected: dict[str, str]
    report: RunReport
    seconds: float

    def cluster_of(self, article_id: str) -> str:
        return self.cluster.get(article_id, REJECTED_PREFIX + article_id)

    def dup_group_of(self, article_id: str) -> str:
        return self.dup_group.get(article_id, REJECTED_PREFIX + article_id)


def check_ids(ids: Sequence[str]) -> None:
    """Refuse an empty, blank, padded or repeated article id (:class:`InputError`)."""
    if not ids:
        raise InputError("no articles given: there is nothing to evaluate")
    for article_id in ids:
        if not isinstance(article_id, str) or not article_id.strip():
            raise InputError(f"article ids must be non-empty strings, got {article_id!r}")
        if article_id != article_id.strip():
            raise InputError(f"article id {article_id!r} has surrounding whitespace, which ingest strips; strip it")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise InputError(f"article ids must be unique; repeated: {repeated[:5]}")


def write_jsonl(path: Path, rows: Iterable[tuple[str, str, str | None]]) -> None:
    """Write ``(id, text, url)`` rows as the JSON Lines input the pipeline reads."""
    with path.open("w", encoding="utf-8") as handle:
        for article_id, text, url in rows:
            record = {"id": article_id, "text": text} | ({"url": url} if url else {})
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _run(rows: Sequence[tuple[str, str, str | None]], config: PipelineConfig) -> _Run:
    """Run the pipeline on ``(id, text, url)`` rows in a temporary directory."""
    check_ids([article_id for article_id, _, _ in rows])
    with tempfile.TemporaryDirectory(prefix="newsdedup-eval-") as tmp:
        source = Path(tmp) / "articles.jsonl"
        write_jsonl(source, rows)
        output = Path(tmp) / "output"
        start = time.perf_counter()
        report = run_pipeline([source], output, config)
        seconds = time.perf_counter() - start
        articles = pq.read_table(
            output / "articles.parquet", columns=["article_id", "cluster_id", "dup_group_id", "title", "text"]
        ).to_pydict()
        clusters = pq.read_table(output / "clusters.parquet", columns=["cluster_id", "headline"]).to_pydict()
        rejects = pq.read_table(output / "rejects.parquet", columns=["article_id", "reason", "dropped"]).to_pylist()
    ids = articles["article_id"]
    reasons = {r["article_id"]: r["reason"] for r in rejects if r["dropped"] and r["article_id"] is not None}
    accepted = set(ids)
    rejected = {
        article_id: reasons.get(article_id, "missing from articles.parquet (no reject row names it)")
        for article_id, _, _ in rows
        if article_id not in accepted
    }
    return _Run(
        cluster=dict(zip(ids, articles["cluster_id"], strict=True)),
        dup_group=dict(zip(ids, articles["dup_group_id"], strict=True)),
        text=dict(zip(ids, copy_texts(articles["title"], articles["text"]), strict=True)),
        headline=dict(zip(clusters["cluster_id"], clusters["headline"], strict=True)),
        rejected=rejected,
        report=report,
        seconds=seconds,
    )


def _rejected_summary(run: _Run) -> dict[str, Any]:
    return {
        "count": len(run.rejected),
        "ids": sorted(run.rejected),
        "reasons": dict(Counter(run.rejected.values()).most_common()),
        "scored_as": "singletons",
    }


def _timing(run: _Run, start: float, **extra: float) -> dict[str, Any]:
    return {
        "pipeline_seconds": round(run.seconds, 3),
        "stages": {s.stage: round(s.seconds, 3) for s in run.report.stages},
        **{name: round(value, 3) for name, value in extra.items()},
        "total_seconds": round(time.perf_counter() - start, 3),
    }


def _groups(labels: dict[str, str]) -> dict[str, list[str]]:
    members: defaultdict[str, list[str]] = defaultdict(list)
    for article_id, label in labels.items():
        members[label].append(article_id)
    return {label: sorted(ids) for label, ids in members.items()}


# ------------------------------------------------------------------------------- event clustering


def _merge_dict(merge: Merge, headlines: dict[str, str]) -> dict[str, Any]:
    return {
        "cluster": str(merge.cluster),
        "headline": headlines.get(str(merge.cluster), ""),
        "size": merge.size,
        "wrong_pairs": merge.wrong_pairs,
        "events": [{"event": str(event), "count": n} for event, n in merge.events],
    }


def _split_dict(split: Split, headlines: dict[str, str]) -> dict[str, Any]:
    return {
        "event": str(split.event),
        "size": split.size,
        "lost_pairs": split.lost_pairs,
        "clusters": [
            {"cluster": str(c), "headline": headlines.get(str(c), ""), "count": n} for c, n in split.clusters
        ],
    }


def _duplicate_groups(run: _Run, event_of: dict[str, str]) -> dict[str, Any]:
    groups = [(canonical, ids) for canonical, ids in sorted(_groups(run.dup_group).items()) if len(ids) > 1]
    listed = []
    for canonical, ids in groups:
        events = Counter(event_of[i] for i in ids)
        listed.append({"canonical": canonical, "members": ids, "events": dict(events.most_common())})
    return {
        "count": len(groups),
        "articles": sum(len(ids) for _, ids in groups),
        "across_events": sum(len(g["events"]) > 1 for g in listed),
        "groups": listed,
    }


def evaluate_clustering(
    articles: Sequence[LabelledArticle],
    config: PipelineConfig | None = None,
    *,
    baseline_threshold: float | None = None,
    worst: int = 5,
) -> dict[str, Any]:
    """Run the pipeline on labelled articles and score its event clusters against gold.

    Args:
        articles: Articles with unique ids and their gold events.
        config: Pipeline settings; the defaults when None.
        baseline_threshold: Cosine threshold of the TF-IDF baseline; None uses
            :data:`~dedup.evaluation.baseline.BASELINE_THRESHOLD` (chosen on ``ecbplus-train``).
        worst: How many worst merges and splits to list.

    Returns:
        A dict with ``kind`` (``"clustering"``), ``n_articles``, ``n_events``; ``method`` and
        ``baseline`` (each the scores of :func:`~dedup.evaluation.metrics.score_clustering`,
        the baseline's with its ``threshold``); ``method_accepted_only`` (the method's scores
        on the articles it accepted, None when it rejected none or all); ``rejected``
        (``count``, ``ids``, ``reasons``, each rejected article scored as a singleton);
        ``worst_merges`` and ``worst_splits`` (plain dicts, with the clusters' headlines);
        ``duplicate_groups`` (the groups of two or more articles, with their gold events);
        ``timing`` (seconds); ``pipeline_counts`` (per stage) and ``config``.

    Raises:
        InputError: No articles, or repeated or blank ids.
        ValueError: A bad threshold or ``worst``.
    """
    start = time.perf_counter()
    config = config or PipelineConfig()
    threshold = BASELINE_THRESHOLD if baseline_threshold is None else baseline_threshold
    # Bad arguments fail here, not after a pipeline run.
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"baseline_threshold is a cosine similarity in (0, 1), got {threshold!r}")
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise ValueError(f"worst must be a non-negative int (how many merges and splits to list), got {worst!r}")
    run = _run([(a.id, a.text, a.url) for a in articles], config)
    ids = [a.id for a in articles]
    gold = [a.event for a in articles]
    pred = [run.cluster_of(i) for i in ids]
    method = score_clustering(pred, gold)
    accepted = [k for k, i in enumerate(ids) if i not in run.rejected]
    method_accepted = (
        score_clustering([pred[k] for k in accepted], [gold[k] for k in accepted])
        if 0 < len(accepted) < len(ids)
        else None
    )

    baseline_start = time.perf_counter()
    baseline_pred = baseline_cluster([a.text for a in articles], threshold).tolist()
    baseline_seconds = time.perf_counter() - baseline_start
    baseline = score_clustering(baseline_pred, gold) | {"threshold": threshold}

    event_of = dict(zip(ids, gold, strict=True))
    return {
        "kind": "clustering",
        "n_articles": len(ids),
        "n_events": len(set(gold)),
        "method": method,
        "method_accepted_only": method_accepted,
        "baseline": baseline,
        "rejected": _rejected_summary(run),
        "worst_merges": [_merge_dict(m, run.headline) for m in worst_merges(pred, gold, worst)],
        "worst_splits": [_split_dict(s, run.headline) for s in worst_splits(pred, gold, worst)],
        "duplicate_groups": _duplicate_groups(run, event_of),
        "timing": _timing(run, start, baseline_seconds=baseline_seconds),
        "pipeline_counts": {s.stage: dict(s.counts) for s in run.report.stages},
        "config": config_dict(config),
    }


def evaluate_benchmark(
    name_or_path: str,
    *,
    label_column: str = "event",
    id_column: str = "id",
    text_column: str = "text",
    config: PipelineConfig | None = None,
    baseline_threshold: float | None = None,
    worst: int = 5,
    duplicates: bool = False,
    variant_seed: int = 0,
) -> dict[str, Any]:
    """:func:`evaluate_clustering` on a named benchmark or a labelled file.

    Args:
        name_or_path: ``ecbplus-train``, ``ecbplus-dev``, or a ``.jsonl``, ``.parquet`` or
            ``.csv`` file (:func:`~dedup.evaluation.ecbplus.load_labelled`) with one labelled
            article per row.
        label_column, id_column, text_column: Columns of a labelled file (ignored for a name).
        config, baseline_threshold, worst: As for :func:`evaluate_clustering`.
        duplicates: Also score the near-duplicates on the same articles:
            :func:`evaluate_near_duplicates` (``copies=2``, ``seed=variant_seed``) and
            :func:`evaluate_real_copies`, with ``config``.
        variant_seed: Seed of the planted copies; other seeds plant other changes in the
            same articles, which shows how much the near-duplicate scores depend on them.

    Returns:
        The result of :func:`evaluate_clustering` with ``benchmark`` (the name or path) and,
        with ``duplicates``, ``near_duplicates`` and ``real_copies`` (those functions' results).

    Raises:
        InputError: Neither a benchmark name nor an existing file, or a file that cannot be
            read as labelled articles.
        ValueError: A negative ``variant_seed``.
    """
    if variant_seed < 0:
        raise ValueError(f"variant_seed must be a non-negative int, got {variant_seed}")
    if name_or_path in BENCHMARKS:
        articles = load_benchmark(name_or_path)
    elif Path(name_or_path).is_file():
        articles = load_labelled(name_or_path, id_column=id_column, label_column=label_column,
                                 text_column=text_column)
    else:
        raise InputError(
            f"{name_or_path!r} is neither a benchmark ({', '.join(BENCHMARKS)}) nor an existing labelled file"
        )
    result = evaluate_clustering(articles, config, baseline_threshold=baseline_threshold, worst=worst)
    if duplicates:
        result["near_duplicates"] = evaluate_near_duplicates(articles, copies=2, seed=variant_seed, config=config)
        result["real_copies"] = evaluate_real_copies(articles, config=config)
    return {"benchmark": str(name_or_path), **result}


# ------------------------------------------------------------------------------ near-duplicates


def _id_text(article: LabelledArticle | tuple[str, str]) -> tuple[str, str]:
    if isinstance(article, LabelledArticle):
        return article.id, article.text
    article_id, text = article
    return article_id, text


def _containment(a: frozenset[Any], b: frozenset[Any]) -> float:
    """Share of the smaller set found in the other one (0.0 when one is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _similarities(a: str, b: str, run: _Run, text_of: dict[str, str]) -> dict[str, float | None]:
    """Exact word 5-gram Jaccard of two articles as given, and of their headline and body after
    cleaning (what duplicate detection compares), with the shorter one's containment."""
    raw = jaccard(shingles(text_of[a]), shingles(text_of[b]))
    if a in run.text and b in run.text:
        ca, cb = shingles(run.text[a]), shingles(run.text[b])
        cleaned: float | None = round(jaccard(ca, cb), 4)
        contained: float | None = round(_containment(ca, cb), 4)
    else:
        cleaned = contained = None
    return {"jaccard": round(raw, 4), "jaccard_cleaned": cleaned, "containment_cleaned": contained}


def _miss_reason(a: str, b: str, run: _Run) -> str:
    rejected = [i for i in (a, b) if i in run.rejected]
    if rejected:
        return "rejected: " + "; ".join(f"{i} ({run.rejected[i]})" for i in rejected)
    return "different duplicate groups"


def _predicted_pairs(run: _Run) -> list[tuple[str, str]]:
    return [pair for ids in _groups(run.dup_group).values() for pair in itertools.combinations(ids, 2)]


def _pair_scores(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, Any]:
    scores = score_clustering(pred, gold)
    keep = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "adjusted_rand", "n_pred_clusters",
            "n_gold_clusters")
    return {key: scores[key] for key in keep}


def evaluate_near_duplicates(
    articles: Sequence[LabelledArticle | tuple[str, str]],
    *,
    copies: int = 2,
    seed: int = 0,
    config: PipelineConfig | None = None,
) -> dict[str, Any]:
    """Plant syndicated copies of real articles and score the pipeline's duplicate groups.

    Every article gets ``copies`` copies from :func:`~dedup.evaluation.variants.make_variants`
    (site furniture, copy edits, truncation, case and whitespace changes); an original and
    its copies form one gold group. The pipeline runs on originals and copies together, and
    its ``dup_group_id`` is compared with the gold groups pair by pair.

    Real articles can be copies of each other already (one wire story on two sites). Such a
    merge is right but counts as a false positive against the planted groups, so the scores
    are also given with the gold groups joined wherever two originals have a word 5-gram
    Jaccard of at least 0.5 (``pairwise_copies_joined``).

    Args:
        articles: Real articles (``LabelledArticle`` or ``(id, text)``) with unique ids.
        copies: Copies per article.
        seed: Seed of :func:`~dedup.evaluation.variants.make_variants`.
        config: Pipeline settings; the defaults when None.

    Returns:
        A dict with ``kind`` (``"near_duplicates"``), ``n_originals``, ``n_copies``,
        ``copies``, ``seed``; ``pairwise`` (pairwise P/R/F1 and ARI against the planted
        groups) and ``pairwise_copies_joined``; ``copies_found`` and ``copy_recall`` (copies
        put in their original's group); ``per_transform`` (for each change: copies that had
        it, found, recall, of which missed because something was rejected); ``missed``
        (copies not found, with their changes, 5-gram Jaccard to the original before and after
        cleaning and why); ``false_pairs`` (predicted pairs across planted groups, with
        whether the originals are real copies); ``rejected`` and ``timing``.

    Raises:
        InputError: No articles, or repeated or blank ids.
        ValueError: A bad ``copies`` or ``seed``.
    """
    start = time.perf_counter()
    config = config or PipelineConfig()
    originals = [_id_text(a) for a in articles]
    variants = make_variants(originals, copies=copies, seed=seed)
    run = _run([(v.id, v.text, None) for v in variants], config)
    text_of = {v.id: v.text for v in variants}
    group_of = {v.id: v.group for v in variants}

    pred = [run.dup_group_of(v.id) for v in variants]
    gold = [v.group for v in variants]
    real = find_copies(originals, threshold=0.5)
    joined = copy_groups(real, [article_id for article_id, _ in originals])
    gold_joined = [joined[g] for g in gold]

    per_transform: dict[str, dict[str, Any]] = {
        name: {"copies": 0, "found": 0, "missed_rejected": 0} for name in TRANSFORMS
    }
    missed: list[dict[str, Any]] = []
    found = missed_rejected = 0
    for v in variants:
        if v.id == v.group:
            continue
        hit = v.id not in run.rejected and run.dup_group_of(v.id) == run.dup_group_of(v.group)
        found += hit
        lost_to_reject = not hit and (v.id in run.rejected or v.group in run.rejected)
        missed_rejected += lost_to_reject
        for name in v.transforms:
            per_transform[name]["copies"] += 1
            per_transform[name]["found"] += hit
            per_transform[name]["missed_rejected"] += lost_to_reject
        if not hit:
            missed.append({"copy": v.id, "original": v.group, "transforms": list(v.transforms),
                           **_similarities(v.group, v.id, run, text_of), "reason": _miss_reason(v.group, v.id, run)})
    for counts in per_transform.values():
        counts["recall"] = counts["found"] / counts["copies"] if counts["copies"] else None

    false_pairs = []
    for a, b in _predicted_pairs(run):
        ga, gb = group_of[a], group_of[b]
        if ga != gb:
            false_pairs.append({"a": a, "b": b, **_similarities(a, b, run, text_of),
                                "originals_are_real_copies": joined[ga] == joined[gb]})
    n_copies = len(variants) - len(originals)
    scorable = n_copies - missed_rejected
    return {
        "kind": "near_duplicates",
        "n_originals": len(originals),
        "n_copies": n_copies,
        "copies": copies,
        "seed": seed,
        "pairwise": _pair_scores(pred, gold),
        "pairwise_copies_joined": _pair_scores(pred, gold_joined),
        "real_copy_pairs_among_originals": len(real),
        "copies_found": found,
        "copy_recall": found / n_copies if n_copies else None,
        "copies_missed_rejected": missed_rejected,
        "copy_recall_accepted": found / scorable if scorable else None,
        "per_transform": per_transform,
        "missed_count": len(missed),
        "missed": sorted(missed, key=lambda m: (m["jaccard"], m["copy"]))[:_MAX_LISTED],
        "false_pair_count": len(false_pairs),
        "false_pairs_not_real_copies": sum(not p["originals_are_real_copies"] for p in false_pairs),
        # Merges of unrelated articles first, least similar first: those are the real errors.
        "false_pairs": sorted(
            false_pairs, key=lambda p: (p["originals_are_real_copies"], p["jaccard"], p["a"], p["b"])
        )[:_MAX_LISTED],
        "rejected": _rejected_summary(run),
        "timing": _timing(run, start),
        "pipeline_counts": {s.stage: dict(s.counts) for s in run.report.stages},
    }


def evaluate_real_copies(
    articles: Sequence[LabelledArticle | tuple[str, str]],
    threshold: float = 0.5,
    *,
    config: PipelineConfig | None = None,
) -> dict[str, Any]:
    """Check the pipeline's duplicate groups against the real copies of a corpus.

    The reference pairs are the articles whose exact word 5-gram Jaccard is at least
    ``threshold`` (:func:`~dedup.evaluation.syndicated.find_copies`). The answer to "all
    found, nothing unrelated merged" is ``found`` of ``copy_pairs`` and ``unrelated_pairs``:
    predicted duplicate pairs that are not reference pairs, each listed with its exact
    Jaccard (a pair only chained through a third article is flagged ``linked_by_copies``).

    Args:
        articles: Articles (``LabelledArticle`` or ``(id, text)``) with unique ids.
        threshold: Minimum 5-gram Jaccard of a reference pair, in (0, 1].
        config: Pipeline settings; the defaults when None.

    Returns:
        A dict with ``kind`` (``"real_copies"``), ``threshold``, ``n_articles``,
        ``copy_pairs``, ``found``, ``recall``, ``missed`` (pairs with Jaccard and why),
        ``predicted_pairs``, ``unrelated_pairs``, ``precision``, ``unrelated`` (listed, with
        ``same_event`` when the articles are labelled), ``rejected`` and ``timing``.

    Raises:
        InputError: No articles, or repeated or blank ids.
        ValueError: ``threshold`` outside (0, 1].
    """
    start = time.perf_counter()
    config = config or PipelineConfig()
    pairs = [_id_text(a) for a in articles]
    check_ids([article_id for article_id, _ in pairs])
    reference = find_copies(pairs, threshold=threshold)
    run = _run([(*pair, None) for pair in pairs], config)
    text_of = dict(pairs)
    event_of = {a.id: a.event for a in articles if isinstance(a, LabelledArticle)}
    linked = copy_groups(reference, [article_id for article_id, _ in pairs])

    missed = []
    for a, b, _ in reference:
        if a in run.rejected or b in run.rejected or run.dup_group[a] != run.dup_group[b]:
            missed.append({"a": a, "b": b, **_similarities(a, b, run, text_of), "reason": _miss_reason(a, b, run)})
    reference_pairs = {(a, b) for a, b, _ in reference}
    predicted = _predicted_pairs(run)
    unrelated = []
    for a, b in predicted:
        if (a, b) in reference_pairs:
            continue
        entry: dict[str, Any] = {"a": a, "b": b, **_similarities(a, b, run, text_of),
                                 "linked_by_copies": linked[a] == linked[b]}
        if a in event_of and b in event_of:
            entry["same_event"] = event_of[a] == event_of[b]
        unrelated.append(entry)
    found = len(reference) - len(missed)
    return {
        "kind": "real_copies",
        "threshold": threshold,
        "n_articles": len(pairs),
        "copy_pairs": len(reference),
        "found": found,
        "recall": found / len(reference) if reference else None,
        "missed": missed[:_MAX_LISTED],
        "predicted_pairs": len(predicted),
        "unrelated_pairs": len(unrelated),
        "precision": (len(predicted) - len(unrelated)) / len(predicted) if predicted else None,
        "unrelated": sorted(unrelated, key=lambda p: (-p["jaccard"], p["a"], p["b"]))[:_MAX_LISTED],
        "rejected": _rejected_summary(run),
        "timing": _timing(run, start),
    }


# ------------------------------------------------------------------------------------ reporting


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in enumerate(cells))

    return [line(header), *(line(row) for row in rows)]


def _listed(ids: Sequence[str], limit: int = 10) -> str:
    more = f" ... (+{len(ids) - limit})" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _timing_line(timing: dict[str, Any]) -> str:
    stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in timing["stages"].items())
    extra = f"; baseline {timing['baseline_seconds']:.2f} s" if "baseline_seconds" in timing else ""
    return f"Time: pipeline {timing['pipeline_seconds']:.2f} s ({stages}){extra}; total {timing['total_seconds']:.2f} s"


def _rejected_line(rejected: dict[str, Any]) -> list[str]:
    if not rejected["count"]:
        return ["Rejected by the pipeline: none"]
    reasons = "; ".join(f"{reason}: {n}" for reason, n in rejected["reasons"].items())
    return [
        f"Rejected by the pipeline: {rejected['count']}, each scored as a singleton ({reasons})",
        f"  {_listed(rejected['ids'])}",
    ]


def _format_clustering(result: dict[str, Any]) -> list[str]:
    method, baseline = result["method"], result["baseline"]
    name = result.get("benchmark", "labelled articles")
    lines = [f"Event clustering on {name}: {result['n_articles']} articles, {result['n_events']} gold events", ""]
    rows = []
    for label, key in (("B-cubed P", "bcubed_precision"), ("B-cubed R", "bcubed_recall"), ("B-cubed F1", "bcubed_f1"),
                       ("pairwise P", "pairwise_precision"), ("pairwise R", "pairwise_recall"),
                       ("pairwise F1", "pairwise_f1"), ("ARI", "adjusted_rand")):
        rows.append([label, _num(method[key]), _num(baseline[key])])
    rows.append(["clusters", str(method["n_pred_clusters"]), str(baseline["n_pred_clusters"])])
    lines += _table(["", "method", f"baseline (t={baseline['threshold']:g})"], rows)
    lines += _rejected_line(result["rejected"])
    accepted = result.get("method_accepted_only")
    if accepted:
        lines.append(
            f"  method on the {accepted['n_items']} accepted articles only: B-cubed F1 {_num(accepted['bcubed_f1'])}, "
            f"pairwise F1 {_num(accepted['pairwise_f1'])}, ARI {_num(accepted['adjusted_rand'])}"
        )
    lines.append("")
    lines.append("Worst merges (predicted cluster: gold events and their article counts)")
    for m in result["worst_merges"]:
        events = ", ".join(f"{e['event']} {e['count']}" for e in m["events"])
        lines.append(f"  {m['cluster']} size {m['size']}, {m['wrong_pairs']} wrong pairs: {events}")
        if m["headline"]:
            lines.append(f"    {m['headline'][:100]}")
    if not result["worst_merges"]:
        lines.append("  none")
    lines.append("Worst splits (gold event: predicted clusters and their article counts)")
    for s in result["worst_splits"]:
        clusters = ", ".join(f"{c['cluster']} {c['count']}" for c in s["clusters"])
        lines.append(f"  {s['event']} size {s['size']}, {s['lost_pairs']} lost pairs: {clusters}")
    if not result["worst_splits"]:
        lines.append("  none")
    dups = result["duplicate_groups"]
    lines.append(
        f"Duplicate groups: {dups['count']} holding {dups['articles']} articles, "
        f"{dups['across_events']} spanning several gold events"
    )
    lines.append(_timing_line(result["timing"]))
    for key in ("near_duplicates", "real_copies"):
        if key in result:
            lines += ["", *_FORMATTERS[key](result[key])]
    return lines


def _format_near_duplicates(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Near-duplicates: {result['n_originals']} originals + {result['n_copies']} planted copies "
        f"(copies={result['copies']}, seed={result['seed']}); "
        f"{result['real_copy_pairs_among_originals']} real copy pairs among the originals",
        "",
    ]
    rows = []
    for label, key in (("planted groups", "pairwise"), ("joined by real copies", "pairwise_copies_joined")):
        s = result[key]
        rows.append([label, _num(s["pairwise_precision"]), _num(s["pairwise_recall"]), _num(s["pairwise_f1"]),
                     _num(s["adjusted_rand"])])
    lines += _table(["gold", "pair P", "pair R", "pair F1", "ARI"], rows)
    lines.append(f"Copies found in their original's group: {result['copies_found']}/{result['n_copies']} "
                 f"({_num(result['copy_recall'])}); {result['copies_missed_rejected']} missed because the copy or its "
                 f"original was rejected; recall on the rest {_num(result['copy_recall_accepted'])}")
    lines.append("")
    rows = [[name, str(c["copies"]), str(c["found"]), _num(c["recall"]), str(c["missed_rejected"])]
            for name, c in result["per_transform"].items()]
    lines += _table(["change", "copies", "found", "recall", "missed (rejected)"], rows)
    if result["missed"]:
        lines.append(f"Missed copies ({result['missed_count']}; lowest Jaccard first):")
        for m in result["missed"][:10]:
            lines.append(
                f"  {m['copy']} [{'+'.join(m['transforms'])}] J={_num(m['jaccard'], 2)} "
                f"cleaned J={_num(m['jaccard_cleaned'], 2)} C={_num(m['containment_cleaned'], 2)}: {m['reason']}"
            )
    lines.append(
        f"Predicted pairs across planted groups: {result['false_pair_count']}, "
        f"{result['false_pairs_not_real_copies']} of them between articles whose originals are not real copies"
    )
    for p in result["false_pairs"][:10]:
        real = " (originals are real copies)" if p["originals_are_real_copies"] else ""
        lines.append(f"  {p['a']} ~ {p['b']} J={_num(p['jaccard'], 2)}{real}")
    lines += _rejected_line(result["rejected"])
    lines.append(_timing_line(result["timing"]))
    return lines


def _format_real_copies(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Real copies (word 5-gram Jaccard >= {result['threshold']:g}) in {result['n_articles']} articles: "
        f"{result['found']}/{result['copy_pairs']} pairs in one duplicate group; "
        f"{result['unrelated_pairs']} of {result['predicted_pairs']} predicted duplicate pairs are not such copies",
    ]
    for m in result["missed"]:
        lines.append(
            f"  missed {m['a']} ~ {m['b']} J={_num(m['jaccard'], 2)} cleaned J={_num(m['jaccard_cleaned'], 2)} "
            f"C={_num(m['containment_cleaned'], 2)}: {m['reason']}"
        )
    for p in result["unrelated"]:
        notes = [f"same event: {p['same_event']}"] if "same_event" in p else []
        notes += ["linked through other copies"] if p["linked_by_copies"] else []
        lines.append(
            f"  merged {p['a']} ~ {p['b']} J={_num(p['jaccard'], 2)} cleaned J={_num(p['jaccard_cleaned'], 2)} "
            f"C={_num(p['containment_cleaned'], 2)} ({', '.join(notes) or 'unlabelled'})"
        )
    lines += _rejected_line(result["rejected"])
    lines.append(_timing_line(result["timing"]))
    return lines


_FORMATTERS = {
    "clustering": _format_clustering,
    "near_duplicates": _format_near_duplicates,
    "real_copies": _format_real_copies,
}


def format_report(result: dict[str, Any]) -> str:
    """A short human-readable text of a result of any ``evaluate_*`` function of this module.

    Raises:
        ValueError: ``result`` is not such a result (no known ``kind``).
    """
    kind = result.get("kind") if isinstance(result, dict) else None
    if kind not in _FORMATTERS:
        raise ValueError(
            f"not an evaluation result (kind {kind!r}); pass what an evaluate_* function of this module returned"
        )
    return "\n".join(_FORMATTERS[kind](result))
