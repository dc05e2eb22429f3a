"""Property tests of cleaning, normalisation, ingest and the whole pipeline on arbitrary input.

``tests/test_clean.py`` already checks that cleaning never raises on arbitrary body text and
that normalisation is idempotent; ``tests/test_ingest.py`` that any bytes as ``.txt`` and any
lines as ``.jsonl`` give well-formed items. These add what those leave open: metadata fields,
invariants of the results, determinism, and that no input line is lost or counted twice.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tempfile
import unicodedata
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.clean import clean_article, content_hash
from dedup.ingest import parse_published_at, read_inputs
from dedup.pipeline import run_pipeline
from dedup.records import RawArticle, Reject
from dedup.text import normalize, normalize_for_hash, split_sentences, tokenize

_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_SLOW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text with the characters that break naive code: line breaks of every kind, controls,
# invisible characters, combining marks, quotes, surrogate-free astral characters.
tricky = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x0b", "\x00", "\u200b", "\ufeff", "\u0301", "“", "ß", "İ"]),
        st.sampled_from(["The ", "minister ", "said ", "on Monday. ", "GENEVA (Reuters) - ", "Share this ", "<p>"]),
    ),
    max_size=80,
).map("".join)
words = st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=30)
optional_text = st.none() | st.text(max_size=40)


@_FAST
@given(text=tricky, title=optional_text, source=optional_text, byline=optional_text, url=optional_text)
def test_cleaning_with_any_metadata_never_raises_and_keeps_its_invariants(
    text: str, title: str | None, source: str | None, byline: str | None, url: str | None
) -> None:
    raw = RawArticle(article_id="x", text=text, input="x.txt", title=title, source=source, byline=byline, url=url)
    first = clean_article(raw)
    assert first == clean_article(raw)
    assert first.content_hash == content_hash(first.text)
    assert normalize(first.text) == first.text  # the body is normalised text
    assert first.n_words == len(tokenize(first.text))
    # Metadata given by the input wins over what the text states.
    assert first.source == (source or first.source)
    assert first.byline == (byline or first.byline)
    assert first.url == url


@_FAST
@given(text=tricky)
def test_normalised_text_has_no_controls_and_is_stable_under_nfc(text: str) -> None:
    out = normalize(text)
    assert "\r" not in out
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", out)
    assert unicodedata.normalize("NFC", out) == normalize(unicodedata.normalize("NFC", text))
    assert all(line == line.strip() for line in out.split("\n"))


def test_an_invisible_character_between_a_letter_and_its_accent_does_not_keep_them_apart() -> None:
    assert normalize("A\u200b\u0300") == "\u00c0"


@_FAST
@given(
    tokens=words,
    separators=st.lists(st.sampled_from([" ", "  ", "\n", "\t", ", ", " - ", "! "]), min_size=30, max_size=30),
)
def test_content_hash_ignores_case_spacing_and_punctuation(tokens: list[str], separators: list[str]) -> None:
    plain = " ".join(tokens)
    noisy = "".join(t.upper() + s for t, s in zip(tokens, separators, strict=False))
    assert normalize_for_hash(noisy) == normalize_for_hash(plain) == plain.lower()
    assert content_hash(noisy) == content_hash(plain)
    assert re.fullmatch(r"[0-9a-f]{32}", content_hash(plain))


@_FAST
@given(text=tricky)
def test_sentence_split_loses_and_invents_nothing(text: str) -> None:
    sentences = split_sentences(text)
    assert sentences == split_sentences(text)
    assert all(s and s == s.strip() and "\n" not in s for s in sentences)
    squeeze = lambda s: re.sub(r"\s+", "", s)
    assert squeeze("".join(sentences)) == squeeze(text)


@_FAST
@given(value=st.one_of(tricky, st.integers(), st.floats(), st.datetimes().map(str), st.dates().map(str)))
def test_any_date_value_parses_to_utc_or_says_why(value: object) -> None:
    try:
        moment = parse_published_at(value)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    if moment is not None:
        assert moment.utcoffset() == timedelta(0)
        assert parse_published_at(moment.isoformat()) == moment


json_lines = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"id": st.text(max_size=6) | st.integers(), "text": tricky},
            optional={"title": optional_text, "published_at": st.text(max_size=25) | st.integers()},
        ).map(json.dumps),
        st.text(max_size=30),
        st.just(""),
        st.just("   "),
    ),
    max_size=10,
)


def _items(path: Path) -> list[RawArticle | Reject]:
    return list(read_inputs([path]))


@_FAST
@given(lines=json_lines)
def test_every_json_line_is_one_article_or_one_reject(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "feed.jsonl"
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    items = _items(path)
    assert items == _items(path)  # same input, same output
    if any(isinstance(i, Reject) and i.record == "" for i in items):
        assert len(items) == 1  # a file-level problem is the file's only item
        return
    used = [i.record for i in items if isinstance(i, RawArticle) or i.dropped]
    nonblank = [f"line {n}" for n, raw in enumerate(data.split(b"\n"), start=1) if raw.strip()]
    assert sorted(used) == sorted(nonblank)


@_FAST
@given(lines=json_lines, cut=st.floats(0, 1))
def test_a_damaged_gzip_feed_keeps_a_prefix_and_never_raises(tmp_path: Path, lines: list[str], cut: float) -> None:
    path = tmp_path / "feed.jsonl.gz"
    whole = gzip.compress("\n".join(lines).encode("utf-8", "surrogatepass"), mtime=0)
    path.write_bytes(whole[: int(len(whole) * cut)])
    (tmp_path / "whole.jsonl.gz").write_bytes(whole)
    kept = [i.article_id for i in _items(path) if isinstance(i, RawArticle)]
    kept_whole = [i.article_id for i in _items(tmp_path / "whole.jsonl.gz") if isinstance(i, RawArticle)]
    assert kept == kept_whole[: len(kept)]


corpus_files = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    st.one_of(tricky.map(lambda t: ("txt", t)), json_lines.map(lambda ls: ("jsonl", "\n".join(ls)))),
    min_size=1,
    max_size=5,
)


GOOD_ARTICLE = (
    "Bridge opening delayed\n\nOfficials in the northern province of Ostland said on Thursday that the new "
    "bridge across the Vell river would open next spring, two years later than planned.\n"
)


@_SLOW
@given(files=corpus_files)
def test_the_pipeline_never_raises_and_is_deterministic(files: dict[str, tuple[str, str]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="newsdedup-prop-"))
    try:
        (root / "in").mkdir()
        # One good article in every batch: a batch with none is the known failure of
        # test_the_pipeline_completes_on_batches_without_usable_words.
        (root / "in" / "good-article.txt").write_text(GOOD_ARTICLE, encoding="utf-8")
        for stem, (suffix, content) in files.items():
            (root / "in" / f"{stem}.{suffix}").write_bytes(content.encode("utf-8", "surrogatepass"))
        run_pipeline([root / "in"], root / "a")
        run_pipeline([root / "in"], root / "b")
        for name in ("articles.parquet", "clusters.parquet", "duplicates.parquet", "rejects.parquet"):
            assert pq.read_table(root / "a" / name).equals(pq.read_table(root / "b" / name)), name
        articles = pq.read_table(root / "a" / "articles.parquet").to_pylist()
        rejects = pq.read_table(root / "a" / "rejects.parquet").to_pylist()
        txt_seen = {Path(r["input"]).stem for r in [*articles, *rejects] if r["input"].endswith(".txt")}
        assert txt_seen == {"good-article"} | {stem for stem, (suffix, _) in files.items() if suffix == "txt"}
        assert all(a["text"].strip() and a["n_words"] > 0 for a in articles)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("", id="no usable article at all"),
        pytest.param("0", id="one article without words"),
    ],
)
def test_the_pipeline_completes_on_batches_without_usable_words(tmp_path: Path, content: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(content, encoding="utf-8")
    run_pipeline([tmp_path / "in"], tmp_path / "out")
    assert pq.read_metadata(tmp_path / "out" / "articles.parquet").num_rows == (content != "")
    assert pq.read_metadata(tmp_path / "out" / "rejects.parquet").num_rows == (content == "")
