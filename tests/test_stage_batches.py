"""The stages' work in bounded steps (texts read back by row, candidate pairs verified a
batch at a time, signatures read a batch at a time) gives what one step over everything gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedup import pipeline
from dedup.config import PipelineConfig
from dedup.minhash import SHINGLE_SETS
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED
from tests.test_duplicates import ORIGINAL, edited_copy, truncated


def test_texts_are_read_back_by_row_from_the_scratch_copy(tmp_path: Path) -> None:
    texts = ["Plain text.", "Curly ‘quotes’ — and ünïcödé", "x" * 5000, "Zürich 北京", "last"]
    path = tmp_path / "documents.parquet"
    pq.write_table(pa.table({"text": texts}), path, row_group_size=2)
    store = pipeline._Texts(path, tmp_path / ".texts.bin")
    assert store(np.array([4, 0, 3])) == [texts[4], texts[0], texts[3]]
    assert store(np.arange(5)) == texts
    assert store(np.empty(0, dtype=np.int64)) == []
    store.close()
    assert not (tmp_path / ".texts.bin").exists()
    assert store(np.array([1])) == [texts[1]]  # written again when needed
    store.close()


def test_signatures_are_read_a_batch_at_a_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    signatures = rng.integers(0, 2**32, size=(25_003, 8), dtype=np.uint32)
    path = tmp_path / "signatures.parquet"
    column = pa.FixedSizeListArray.from_arrays(pa.array(signatures.reshape(-1)), 8)
    pq.write_table(pa.table({"article_id": [str(k) for k in range(len(signatures))], "signature": column}), path,
                   row_group_size=7_000)
    assert np.array_equal(pipeline._read_signatures(path, len(signatures), 8), signatures)
    with pytest.raises(ValueError, match="25003 signatures for 25000 documents"):
        pipeline._read_signatures(path, 25_000, 8)


@pytest.mark.parametrize("stored_sets", [True, False])
def test_duplicates_verified_pair_by_pair_equal_those_verified_at_once(tmp_path, monkeypatch, stored_sets):
    other = QUAKE_A[1][1]
    texts = [ORIGINAL, edited_copy(ORIGINAL), truncated(ORIGINAL), other, edited_copy(other), QUAKE_B[1][1],
             UNRELATED[1]]
    corpus = tmp_path / "in"
    corpus.mkdir()
    for i, text in enumerate(texts):
        (corpus / f"doc{i}.txt").write_text(f"Title {i}\n\n{text}\n", encoding="utf-8")
    config = PipelineConfig()
    work = tmp_path / "work"
    work.mkdir()
    pipeline.ingest_articles([corpus], work, config.ingest, workers=1)
    pipeline.compute_signatures(work, config.minhash, workers=1)
    if not stored_sets:
        (work / SHINGLE_SETS).unlink()
    at_once = pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    expected = pq.read_table(work / "dedup.parquet")
    groups = dict(zip(expected.column("article_id").to_pylist(), expected.column("dup_group_id").to_pylist(),
                      strict=True))
    assert groups["doc1"] == groups["doc2"] == groups["doc0"] and groups["doc4"] == groups["doc3"]
    assert len(set(groups.values())) == 4
    assert at_once.counts["plausible_pairs"] >= 4
    monkeypatch.setattr(pipeline, "_VERIFY_PAIRS", 1)
    one_by_one = pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    assert pq.read_table(work / "dedup.parquet").equals(expected)
    assert one_by_one.counts == at_once.counts
    assert not (work / ".texts.bin").exists()
