"""Deterministic synthetic news corpus for the speed benchmark, built from real sentences.

Every article is assembled from real English news sentences (the ECB+ text committed in
``data/benchmarks``), with the structure a news feed has:

- synthetic *events*, each with its own pool of sentences, people, a place and a date;
  event sizes are skewed (many small stories, a few big ones);
- articles of an event draw most of their sentences from its pool and the rest from all
  sentences, about 450 words each, published within days of the event;
- about 15 % of the articles are syndicated near-copies of another article, made with
  :func:`dedup.evaluation.variants.make_variants` (site furniture, copy edits, truncation,
  case and whitespace changes), published up to a day and a half after the original.

Output: ``part-NNNNN.jsonl.gz`` shards of JSON Lines (``id``, ``title``, ``text``,
``published_at``, ``source``, ``url``, ``event``, ``copy_of``) plus ``corpus.json`` with the
settings. The same ``n`` and ``seed`` give byte-identical files. Ids are hashes, so the
input is not in id order (as with real feeds).

Usage::

    python benchmarks/corpus.py --n 100000 --out benchmarks/data/corpus-100000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dedup.evaluation.ecbplus import load_benchmark
from dedup.evaluation.variants import make_variants
from dedup.text import split_sentences

__all__ = ["CorpusSpec", "generate", "main", "real_sentences"]

SHARD_ARTICLES = 50_000
COPY_SHARE = 0.15
START = datetime(2023, 1, 2, tzinfo=UTC)
SPAN_DAYS = 70

_FIRST = (
    "Anna Ben Carla David Elena Farid Grace Hiro Ines Jonas Karim Lena Marco Nadia Omar Paula Quentin Rosa "
    "Samir Tara Ulla Victor Wen Ximena Yusuf Zoe Amir Beatriz Chen Dmitri Esther Felix Gita Hassan Ingrid "
    "Jamal Keiko Luis Mei Nikolai Olga Pedro Rania Sven Tomas Uma Vera Walter Yara"
).split()
_LAST = (
    "Abbott Banerjee Castillo Dubois Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski Laurent Moreau "
    "Nakamura Okafor Petrov Quinn Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmermann Alvarez "
    "Brennan Costa Delgado Engel Ferreira Gallagher Horvath Iqbal Jovanovic Kimura Lindqvist Mensah "
    "Novak Oliveira Park Reyes Santos Torres Ulrich Vasquez Walsh Young"
).split()
_PLACES = (
    "Geneva|Brussels|Lagos|Manila|Lima|Oslo|Nairobi|Quito|Hanoi|Lyon|Porto|Tucson|Fresno|Leeds|Dhaka|"
    "Cork|Bergen|Graz|Turin|Seville|Krakow|Tampere|Mombasa|Cebu|Recife|Halifax|Dunedin|Perth|Izmir|Haifa|"
    "Galway|Aarhus|Malaga|Bilbao|Utrecht|Ghent|Basel|Bremen|Leipzig|Varna"
).split("|")
_OUTLETS = (
    "Reuters|AP|AFP|Daily Courier|Metro Herald|Valley Tribune|Evening Ledger|Newswire Today|City Post|"
    "Northern Echo|Coastal Times|Morning Star|Capital Journal|Harbour News|The Observer Online"
).split("|")
_PROPER_RUN = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)+")
_NUMBER = re.compile(r"\b\d{1,3}\b")


@lru_cache(maxsize=1)
def real_sentences() -> tuple[str, ...]:
    """Distinct sentences of 6-60 words from the committed ECB+ train and dev articles, in file order."""
    seen: dict[str, None] = {}
    for name in ("ecbplus-train", "ecbplus-dev"):
        for article in load_benchmark(name):
            for sentence in split_sentences(article.text):
                if 6 <= len(sentence.split()) <= 60:
                    seen.setdefault(sentence, None)
    return tuple(seen)


class CorpusSpec:
    """Sizes of the corpus: originals per event, which originals get a copy, shard ranges."""

    def __init__(self, n: int, seed: int) -> None:
        if n < 10:
            raise ValueError(f"n must be at least 10, got {n}")
        self.n, self.seed = n, seed
        rng = np.random.default_rng([seed, 0])
        self.n_copies = round(n * COPY_SHARE)
        n_originals = n - self.n_copies
        sizes = 1 + rng.geometric(0.12, size=n_originals)  # mean about 9 originals per event
        sizes[rng.random(n_originals) < 0.35] = 1  # plenty of one-article stories too
        ends = np.cumsum(sizes)
        n_events = int(np.searchsorted(ends, n_originals) + 1)
        sizes = sizes[:n_events]
        sizes[-1] -= int(ends[n_events - 1] - n_originals)
        self.event_sizes = sizes
        self.event_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.copied = np.zeros(n_originals, dtype=bool)
        self.copied[rng.choice(n_originals, size=self.n_copies, replace=False)] = True
        # Shards hold whole events, about SHARD_ARTICLES originals-plus-copies each.
        per_event_total = np.add.reduceat(1 + self.copied.astype(np.int64), self.event_starts)
        cum = np.cumsum(per_event_total)
        cuts = np.searchsorted(cum, np.arange(SHARD_ARTICLES, n, SHARD_ARTICLES), side="left") + 1
        bounds = np.unique(np.concatenate(([0], cuts, [n_events])))
        self.shards = [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]


def _article_id(seed: int, index: int) -> str:
    return hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).hexdigest()


def _event(seed: int, event: int, sentences: Sequence[str]) -> dict[str, Any]:
    rng = np.random.default_rng([seed, 1, event])
    pool = [sentences[int(i)] for i in rng.choice(len(sentences), size=40, replace=False)]
    people = [f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}" for _ in range(3)]
    numbers = [str(int(x)) for x in rng.integers(2, 400, size=4)]
    place = _PLACES[int(rng.integers(len(_PLACES)))]
    counter = iter(range(10**6))

    def person(_match: re.Match[str]) -> str:
        return people[next(counter) % len(people)]

    def number(_match: re.Match[str]) -> str:
        return numbers[next(counter) % len(numbers)]

    pool = [_NUMBER.sub(number, _PROPER_RUN.sub(person, s)) for s in pool]
    words = pool[0].rstrip(".!?").split()[:9]
    title = f"{place}: {' '.join(words)}"
    when = START + timedelta(days=float(rng.uniform(0, SPAN_DAYS)))
    return {"pool": pool, "title": title, "place": place, "when": when}


def _article_text(rng: np.random.Generator, event: dict[str, Any], sentences: Sequence[str]) -> str:
    target = int(np.clip(rng.normal(450, 90), 200, 900))
    pool = event["pool"]
    order = rng.permutation(len(pool))
    chosen: list[str] = []
    words = used = 0
    while words < target:
        if used < len(pool) and rng.random() < 0.65:
            sentence = pool[int(order[used])]
            used += 1
        else:
            sentence = sentences[int(rng.integers(len(sentences)))]
        chosen.append(sentence)
        words += len(sentence.split())
    paragraphs, k = [], 0
    while k < len(chosen):
        step = int(rng.integers(1, 4))
        paragraphs.append(" ".join(chosen[k : k + step]))
        k += step
    if rng.random() < 0.3:
        paragraphs[0] = f"{event['place'].upper()} ({_OUTLETS[int(rng.integers(3))]}) - {paragraphs[0]}"
    return "\n".join(paragraphs)


def _write_shard(args: tuple[int, int, int, int, str]) -> int:
    n, seed, first_event, last_event, path = args
    spec = CorpusSpec(n, seed)
    sentences = real_sentences()
    copied_before = int(spec.copied[: spec.event_starts[first_event]].sum())
    n_originals = len(spec.copied)
    written = 0
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
        for event_index in range(first_event, last_event):
            event = _event(seed, event_index, sentences)
            start = int(spec.event_starts[event_index])
            for original in range(start, start + int(spec.event_sizes[event_index])):
                rng = np.random.default_rng([seed, 2, original])
                article_id = _article_id(seed, original)
                text = _article_text(rng, event, sentences)
                when = event["when"] + timedelta(hours=float(min(rng.exponential(20.0), 140.0)))
                source = _OUTLETS[int(rng.integers(len(_OUTLETS)))]
                title = event["title"] if rng.random() < 0.7 else event["pool"][int(rng.integers(40))][:90]
                records = [(article_id, title, text, when, source, None)]
                if spec.copied[original]:
                    copy_id = _article_id(seed, n_originals + copied_before)
                    copied_before += 1
                    variant = make_variants([(article_id, text)], copies=1, seed=seed)[1]
                    copy_when = when + timedelta(hours=float(rng.uniform(0.5, 36.0)))
                    copy_source = _OUTLETS[int(rng.integers(len(_OUTLETS)))]
                    records.append((copy_id, title, variant.text, copy_when, copy_source, article_id))
                for rid, rtitle, rtext, rwhen, rsource, copy_of in records:
                    record = {
                        "id": rid,
                        "title": rtitle,
                        "text": rtext,
                        "published_at": rwhen.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "source": rsource,
                        "url": f"https://example.org/{rsource.lower().replace(' ', '-')}/{rid}",
                        "event": f"e{event_index}",
                        "copy_of": copy_of,
                    }
                    out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
                    written += 1
    return written


def generate(n: int, out: Path, seed: int = 7, workers: int = 2) -> Path:
    """Write the corpus of ``n`` articles into ``out`` (reused when already complete)."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "corpus.json"
    settings = {"n": n, "seed": seed, "copy_share": COPY_SHARE, "shard_articles": SHARD_ARTICLES, "version": 1}
    if manifest.exists() and json.loads(manifest.read_text()).get("settings") == settings:
        return out
    for old in out.glob("part-*.jsonl.gz"):
        old.unlink()
    spec = CorpusSpec(n, seed)
    jobs = [(n, seed, a, b, str(out / f"part-{k:05d}.jsonl.gz")) for k, (a, b) in enumerate(spec.shards)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(_write_shard, jobs))
    if sum(counts) != n:
        raise RuntimeError(f"wrote {sum(counts)} articles, expected {n}")
    manifest.write_text(json.dumps({"settings": settings, "shards": len(jobs), "articles": n}, indent=2) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of articles")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    generate(args.n, args.out, args.seed, args.workers)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
