"""The fast paths of normalisation, tokenisation and cleaning give what the plain rules give.

Each fast path is compared with a direct statement of the rule it shortcuts, on random text
built from the characters and phrases the shortcuts are about.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dedup import clean
from dedup.text import ascii_token_lines, first_sentences, normalize, normalize_for_hash, split_sentences, tokenize

# The token rule, written out: a character of a script without spaces, or a run of other word
# characters with inner apostrophes.
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+(?:['\u2019][^\W{_UNSPACED}]+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"',
                         "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2032": "'"})  # fmt: skip
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

_MANY = settings(max_examples=400, deadline=None)

# ASCII text dense in what the byte operations have to get right: apostrophes in runs and at
# word edges, spaces in runs, line breaks, punctuation, letters of both cases, digits, "_".
ascii_text = st.lists(
    st.sampled_from(["a", "B", "z", "Q", "0", "7", "_", "'", "''", " ", "  ", "\n", "\t", ".", ",", "-", '"', "it's"]),
    max_size=60,
).map("".join)
# Any text, with the characters normalisation treats specially.
any_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\n", "\r\n", "\r", "\t", "  ", " \n", "\x0b", "\x00", "\x1f", "\u200b", "\u00a0", "\u0301"]),
        st.sampled_from(["“", "’", "'", "ß", "İ", "ﬁ", "Ａ", "½", "K", "e\u0301", "\u2028", "Word ", "it's "]),
    ),
    max_size=60,
).map("".join)


def reference_normalize(text: str) -> str:
    # Invisible characters go before NFC: one may sit between a letter and its accent.
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE).translate(_QUOTES))
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def reference_normalize_for_hash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
    return " ".join(_TOKEN.findall(text))


@_MANY
@given(ascii_text)
def test_ascii_token_lines_are_the_tokens_of_each_line(text: str) -> None:
    expected = [" ".join(_TOKEN.findall(line.lower())).encode("ascii") for line in text.split("\n")]
    assert ascii_token_lines(text) == expected


@_MANY
@given(st.one_of(ascii_text, any_text))
@example("x''y 'z' \x0b\r_")
def test_tokenize_equals_the_rule(text: str) -> None:
    assert tokenize(text) == _TOKEN.findall(text.lower())


@_MANY
@given(st.one_of(ascii_text, any_text))
def test_normalize_for_hash_equals_the_rule(text: str) -> None:
    assert normalize_for_hash(text) == reference_normalize_for_hash(text)


@_MANY
@given(st.one_of(ascii_text, any_text))
@example("A\u200b\u0300")
def test_normalize_equals_the_rule(text: str) -> None:
    assert normalize(text) == reference_normalize(text)


@_MANY
@given(st.one_of(ascii_text, any_text))
def test_hashed_form_is_the_hashed_forms_of_the_lines(text: str) -> None:
    # Cleaning hashes a body from its lines' hashed forms.
    parts = [normalize_for_hash(line) for line in text.split("\n")]
    assert normalize_for_hash(text) == " ".join(part for part in parts if part)


# Lines built from the literal words of the furniture patterns, in any case, with punctuation.
_PHRASES = [
    "automatic", "automatically", "programmatic", "machine-translated", "auto-translated", "translated by", "site",
    "website", "editor", "this page", "support", "donate", "contribute", "contributed reporting", "subscribe",
    "membership", "patreon", "we", "us", "our", "news", "journalism", "independent", "you", "your", "cookies",
    "browsing", "accept", "all rights reserved", "may not be published", "views expressed", "comments", "readers",
    "comments below", "tell us", "let us know", "share this", "contact us", "story tip", "send us", "follow us",
    "sign up", "what do you think", "like this story", "reporting by", "(editing by", "writing:", "research by",
    "by", "the", "rain", "fell",
]  # fmt: skip
furniture_like = st.lists(
    st.tuples(st.sampled_from(_PHRASES), st.sampled_from(["", "upper", "title"]), st.sampled_from([" ", ", ", ". ", " - ", "; "])),
    min_size=1,
    max_size=10,
).map(lambda parts: "".join((getattr(p, c)() if c else p) + sep for p, c, sep in parts).strip())


@_MANY
@given(furniture_like)
def test_furniture_prechecks_never_hide_a_match(text: str) -> None:
    line = clean._describe_lines(text)[0]
    words = line.words
    for pattern, candidates in [
        (clean._AUTO_PUBLISHING, words.auto_publishing),
        (clean._APPEAL, words.appeal),
        (clean._SITE_NOTICE, words.site_notice),
        (clean._ENGAGEMENT, clean._ENGAGEMENT_WORDS),
    ]:
        if pattern.search(text):
            assert line.may_contain(candidates), pattern.pattern
    if clean._SEPARATORS.search(text):
        assert line.may_have_separators
    assert clean._is_credit(line) == (clean._CREDIT.search(text) is not None)


@_MANY
@given(st.one_of(ascii_text, any_text, furniture_like))
def test_line_measures_equal_the_rules(text: str) -> None:
    stop_words = clean._STOP
    for line, raw in zip(clean._describe_lines(text), text.split("\n"), strict=True):
        tokens = tokenize(raw)
        assert line.n_words == len(tokens)
        assert line.stop_share == (sum(token in stop_words for token in tokens) / len(tokens) if tokens else 0.0)
        assert line.ends_sentence == raw.rstrip(" \"')]").endswith((".", "!", "?", ":", ";", "…"))


_PROSE = (
    "The council said on Monday that the new bridge over the river would open to traffic in the spring, "
    "after two years of delays caused by flooding and a shortage of steel, and that tolls would not be charged"
)
_BODY_LINES = [
    _PROSE, _PROSE.upper(), "(Reporting by Anna Berg; " + _PROSE, "Editing by Tom Hale " + _PROSE, _PROSE + " | Home | News",
    _PROSE + " -- more", "Share this article", "Related articles:", "By Anna Berg", "March 3, 2021", "RIVERTON (AP) - " + _PROSE,
    "We rely on readers like you: please support our independent journalism. " + _PROSE,
]  # fmt: skip
# Mostly lines without any precheck word (the shortcut's case), sometimes one with such words.
article_lines = st.lists(
    st.one_of(st.sampled_from(_BODY_LINES), st.sampled_from(_BODY_LINES), st.sampled_from(_BODY_LINES), furniture_like),
    max_size=12,
).map("\n".join)


@_MANY
@given(article_lines)
@example(_PROSE + "\n(Reporting by Anna Berg; " + _PROSE)
def test_the_long_body_line_shortcut_changes_nothing(text: str) -> None:
    raw = clean.RawArticle(article_id="a", text=text, input="a.txt")
    fast = clean.clean_article(raw)
    original = clean._TextWords.any_words
    try:
        clean._TextWords.any_words = property(lambda self: True)  # type: ignore[method-assign,assignment]
        slow = clean.clean_article(raw)
    finally:
        clean._TextWords.any_words = original  # type: ignore[method-assign]
    assert fast == slow


# Sentences across paragraphs: marks, abbreviations, quotes, blank and indented lines.
sentence_text = st.lists(
    st.sampled_from(["One", " two", "Mr.", " Dr. ", ".", "!", "?", " ", "\n", " \n", "\n\n", '"', "A", "3", "U.S."]),
    max_size=30,
).map("".join)


@_MANY
@given(sentence_text, st.integers(min_value=0, max_value=4))
def test_first_sentences_are_the_first_of_all_sentences(text: str, k: int) -> None:
    assert first_sentences(text, k) == split_sentences(text)[:k]
