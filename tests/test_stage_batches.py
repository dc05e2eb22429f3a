"""The stages' work in bounded steps (signatures and shingle sets written and read a batch
at a time, texts read back by row, candidate pairs checked and verified a batch at a time)
gives what one step over everything gives."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import duplicates, pipeline
from dedup.config import PipelineConfig
from dedup.io import read_scratch_rows, write_scratch
from dedup.minhash import SHINGLE_SETS, ShingleSetsWriter, read_shingles, signatures_of_texts, unique_shingles_of_texts
from dedup.text import copy_text
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED
from tests.test_duplicates import ORIGINAL, edited_copy, truncated


def _input_and_work(tmp_path: Path, texts: list[str]) -> tuple[Path, Path]:
    """An input folder holding one titled text file per text (``doc00.txt``, ...) and an
    empty work directory."""
    corpus, work = tmp_path / "in", tmp_path / "work"
    corpus.mkdir()
    work.mkdir()
    for i, text in enumerate(texts):
        (corpus / f"doc{i:02d}.txt").write_text(f"Title {i}\n\n{text}\n", encoding="utf-8")
    return corpus, work


def test_texts_are_read_back_by_row_from_the_scratch_copy(tmp_path: Path) -> None:
    titles = ["Headline", None, "", "北京", "last"]
    texts = ["Plain text.", "Curly ‘quotes’ — and ünïcödé", "x" * 5000, "Zürich 北京", "last"]
    # What near-duplicate detection compares: the headline, when there is one, over the body
    # (a one-line text is its own headline, not repeated).
    compared = ["Headline\nPlain text.", texts[1], texts[2], "北京\nZürich 北京", "last"]
    path = tmp_path / "documents.parquet"
    pq.write_table(pa.table({"title": pa.array(titles, pa.string()), "text": texts}), path, row_group_size=2)
    store = pipeline._Texts(path, tmp_path / ".texts.arrow")
    assert store(np.array([4, 0, 3])) == [compared[4], compared[0], compared[3]]
    assert store(np.arange(5)) == compared
    assert store(np.empty(0, dtype=np.int64)) == []
    store.close()
    assert not (tmp_path / ".texts.arrow").exists()
    assert store(np.array([1])) == [compared[1]]  # written again when needed
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
    corpus, work = _input_and_work(tmp_path, texts)
    config = PipelineConfig()
    pipeline.ingest_articles([corpus], work, config.ingest, workers=1)
    pipeline.compute_signatures(work, config.minhash, workers=1)
    if not stored_sets:
        (work / SHINGLE_SETS).unlink()
    at_once = pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    expected = pq.read_table(work / "dedup.parquet")
    groups = dict(zip(expected.column("article_id").to_pylist(), expected.column("dup_group_id").to_pylist(),
                      strict=True))
    assert groups["doc01"] == groups["doc02"] == groups["doc00"] and groups["doc04"] == groups["doc03"]
    assert len(set(groups.values())) == 4
    assert at_once.counts["plausible_pairs"] >= 4
    monkeypatch.setattr(pipeline, "_VERIFY_PAIRS", 1)
    monkeypatch.setattr(duplicates, "_PLAUSIBLE_PAIRS", 2)
    one_by_one = pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    assert pq.read_table(work / "dedup.parquet").equals(expected)
    assert one_by_one.counts == at_once.counts
    assert pipeline._holds_documents(work / pipeline._DOCUMENT_COPY, len(texts))  # kept for the events stage


def test_events_from_the_duplicates_stage_copy_equal_events_from_their_own(tmp_path):
    import shutil

    texts = [QUAKE_A[0][1], QUAKE_A[1][1], QUAKE_B[0][1], QUAKE_B[1][1], UNRELATED[1], ORIGINAL,
             edited_copy(ORIGINAL), truncated(ORIGINAL)]
    corpus, work = _input_and_work(tmp_path, texts)
    config = PipelineConfig()
    pipeline.ingest_articles([corpus], work, config.ingest, workers=1)
    pipeline.compute_signatures(work, config.minhash, workers=1)
    pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    own = tmp_path / "own"
    shutil.copytree(work, own)
    (own / pipeline._DOCUMENT_COPY).unlink()
    pipeline.group_events(work, config.cluster, config.summary)
    pipeline.group_events(own, config.cluster, config.summary)
    for name in ("events.parquet", "clusters.parquet"):
        assert pq.read_table(work / name).equals(pq.read_table(own / name))
    assert not (work / pipeline._DOCUMENT_COPY).exists() and not (own / pipeline._EVENT_ARTICLES).exists()


def test_signatures_and_shingle_sets_are_written_a_row_group_at_a_time(tmp_path, monkeypatch):
    texts = [QUAKE_A[0][1], QUAKE_A[1][1], QUAKE_B[0][1], QUAKE_B[1][1], UNRELATED[1], ORIGINAL, "Too short.",
             edited_copy(ORIGINAL), truncated(ORIGINAL), QUAKE_A[0][1] + " More to follow."]
    corpus, work = _input_and_work(tmp_path, texts)
    config = PipelineConfig()
    monkeypatch.setattr(pipeline, "_DOCUMENTS_ROW_GROUP", 3)  # documents in row groups of 3
    pipeline.ingest_articles([corpus], work, config.ingest, workers=1)
    monkeypatch.setattr(pipeline, "ROW_GROUP_SIZE", 4)  # signatures in row groups of 4
    pipeline.compute_signatures(work, config.minhash, workers=1)

    docs = pq.read_table(work / "documents.parquet")
    # Each article is shingled with its headline ("Title 3") over its body.
    clean = [copy_text(title, text) for title, text in zip(docs.column("title").to_pylist(),
                                                            docs.column("text").to_pylist(), strict=True)]
    assert clean[3].startswith("Title 3\n")
    mh = config.minhash
    written = pq.ParquetFile(work / "signatures.parquet")
    assert [written.metadata.row_group(g).num_rows for g in range(written.num_row_groups)] == [4, 4, 2]
    table = written.read()
    assert table.schema.metadata[b"minhash"] == str(mh).encode()
    assert table.column("article_id").equals(docs.column("article_id"))
    expected = signatures_of_texts(clean, mh.num_perm, mh.shingle_size, mh.seed)
    assert np.array_equal(np.asarray(table.column("signature").combine_chunks().flatten()).reshape(-1, mh.num_perm),
                          expected)
    values, offsets = unique_shingles_of_texts(clean, mh.shingle_size)
    stored = read_shingles(work / SHINGLE_SETS, docs.column("content_hash"), mh.shingle_size)
    assert stored is not None
    assert np.array_equal(stored[0], values) and np.array_equal(stored[1], offsets)
    assert sorted(p.name for p in work.iterdir()) == ["documents.parquet", "rejects.parquet", "shingle_sets.arrow",
                                                      "signatures.parquet"]


def test_a_shingle_sets_file_left_unfinished_is_not_written(tmp_path):
    path = tmp_path / SHINGLE_SETS
    with pytest.raises(RuntimeError), ShingleSetsWriter(path, 5) as writer:
        writer.write(pa.chunked_array([["h1"]]), np.array([3, 1], dtype=np.uint32), np.array([0, 2]))
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []
    with ShingleSetsWriter(path, 5) as writer:
        writer.write(pa.chunked_array([["h1", "h2"]]), np.array([1, 3, 2], dtype=np.uint32), np.array([0, 2, 3]))
        writer.write(pa.chunked_array([[]], type=pa.string()), np.empty(0, dtype=np.uint32), np.array([0]))
        writer.write(pa.chunked_array([["h3"]]), np.array([7], dtype=np.uint32), np.array([0, 1]))
    hashes, offsets = read_shingles(path, pa.chunked_array([["h1", "h2", "h3"]]), 5)
    assert hashes.tolist() == [1, 3, 2, 7] and offsets.tolist() == [0, 2, 3, 4]
    assert read_shingles(path, pa.chunked_array([["h1", "h2", "other"]]), 5) is None
    assert read_shingles(path, pa.chunked_array([["h1", "h2", "h3"]]), 4) is None


@pytest.mark.parametrize("keep", [[], list(range(23)), [0, 4, 5, 6, 11, 12, 13, 14, 15, 16, 22], [7]])
def test_documents_left_after_skipping_seen_ones_are_rewritten_a_row_group_at_a_time(tmp_path, monkeypatch, keep):
    from dedup import schema

    rows = [{"article_id": f"a{k:02d}", "input": "in", "record": f"line {k}", "n_words": k, "content_hash": f"h{k}",
             "text": f"text {k}"} for k in range(23)]
    path = tmp_path / "documents.parquet"
    table = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS)
    pq.write_table(table, path, row_group_size=5)
    monkeypatch.setattr(pipeline, "ROW_GROUP_SIZE", 4)
    pipeline._keep_rows(path, np.array(keep, dtype=np.int64))
    written = pq.ParquetFile(path)
    assert written.read().equals(table.take(pa.array(keep, type=pa.int64())))
    sizes = [written.metadata.row_group(g).num_rows for g in range(written.num_row_groups)]
    assert sizes == ([4] * (len(keep) // 4) + [len(keep) % 4] * (len(keep) % 4 > 0) if keep else [0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents.parquet"]


def test_no_documents_give_files_of_no_rows(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "feed.jsonl").write_text('{"id": "x", "text": "Skip to content"}\n', encoding="utf-8")
    config = PipelineConfig()
    work = tmp_path / "work"
    work.mkdir()
    pipeline.ingest_articles([tmp_path / "in"], work, config.ingest, workers=1)
    pipeline.compute_signatures(work, config.minhash, workers=1)
    signatures = pq.ParquetFile(work / "signatures.parquet")
    assert signatures.metadata.num_rows == 0 and signatures.num_row_groups == 1  # as write_table writes it
    assert read_shingles(work / SHINGLE_SETS, pq.read_table(work / "documents.parquet").column("content_hash"),
                         config.minhash.shingle_size)[1].tolist() == [0]
    assert pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1).counts["documents"] == 0


@given(st.lists(st.integers(0, 6), min_size=1, max_size=6), st.data())
@settings(max_examples=60, deadline=None)
def test_scratch_rows_come_back_in_the_order_asked_across_batches(tmp_path_factory, sizes, data):
    total = sum(sizes)
    table = pa.table({"n": list(range(total)), "text": [f"row {k} " + "é" * k for k in range(total)]})
    path = tmp_path_factory.mktemp("scratch") / "rows.arrow"
    starts = np.cumsum([0, *sizes])
    assert write_scratch((table.slice(a, b - a) for a, b in itertools.pairwise(starts)), table.schema, path) == total
    rows = data.draw(st.lists(st.integers(0, total - 1), max_size=12)) if total else []
    got = read_scratch_rows(path, rows, ["text"])
    assert got.column_names == ["text"]
    assert got.column("text").to_pylist() == [table.column("text")[r].as_py() for r in rows]
    with pytest.raises(IndexError, match=f"has {total} rows"):
        read_scratch_rows(path, [total], ["n"])


def test_events_counted_and_summarised_in_chunks_equal_those_of_one_chunk(tmp_path, monkeypatch):
    texts = [text for _, text in [*QUAKE_A, *QUAKE_B, UNRELATED]]
    corpus, work = _input_and_work(tmp_path, texts)
    config = PipelineConfig()
    pipeline.ingest_articles([corpus], work, config.ingest, workers=1)
    pipeline.compute_signatures(work, config.minhash, workers=1)
    pipeline.find_duplicates(work, config.minhash, config.duplicates, workers=1)
    pipeline.group_events(work, config.cluster, config.summary)
    whole = [pq.read_table(work / name) for name in ("events.parquet", "clusters.parquet")]
    monkeypatch.setattr(pipeline, "_EVENT_CHUNK", 2)  # chunks of two articles, in worker processes
    monkeypatch.setattr("dedup.minhash.default_workers", lambda: 2)
    pipeline.group_events(work, config.cluster, config.summary)
    assert [pq.read_table(work / name) for name in ("events.parquet", "clusters.parquet")] == whole
    assert len(set(whole[0].column("cluster_id").to_pylist())) >= 3
    assert not (work / pipeline._EVENT_ARTICLES).exists()  # the scratch file is removed
