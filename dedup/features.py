"""Event features of an article: term and entity counts in five blocks, weighted by IDF.

A news editor tells two events of the same kind apart by *who*, *where* and *what the lead
says*, not by the vocabulary the whole topic shares. So each article has five blocks:

- ``body``: content words of title and text (English stop words removed);
- ``lead``: content words of the title and first sentences, where the event is stated;
- ``entities``: capitalised names (people, places, organisations), acronyms and numbers of
  the whole article, plus the dateline place; found by capitalisation, no trained model;
- ``lead_entities``: the names of the title and first sentences;
- ``lead_places``: the places the lead puts the event in ("talks in Vienna", "at the
  stadium in Leeds") and the dateline place. A block of its own because it is short: after
  L2 normalisation one shared place weighs as much as a whole shared name list, which is
  what an editor gives it (two fires in one street are rarely one fire in another town).

Counts are kept raw (:class:`FeatureCounts`) so that IDF can be computed over any subset:
over the whole batch to find stories, and inside one story to tell its events apart
(:func:`weigh`). ``weigh`` returns rows whose dot products are weighted means of the block
cosines.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.preprocessing import normalize as l2_normalize

from dedup.text import UNSPACED_CHARS, first_sentences

__all__ = [
    "BLOCKS",
    "ArticleFields",
    "FeatureCounts",
    "compact_columns",
    "count_features",
    "count_features_in_parallel",
    "count_features_of_parts",
    "extract_entities",
    "flatten_groups",
    "lead_places",
    "lead_text",
    "merge_counts",
    "sorted_distinct",
    "tfidf",
    "top_entities",
    "used_columns",
    "weigh",
    "weigh_split",
    "weigh_within",
]

BLOCKS = ("body", "lead", "entities", "lead_entities", "lead_places")
_WORD = r"(?u)\b[^\W\d_][\w'’-]+\b"
_CAP_WORD = r"(?:[A-Z][\w'’.-]*[\w]|[A-Z])"
# Names never run across a line break: a title line and the first sentence are separate.
_NAME_LINK = r"(?:of|de|del|da|di|van|von|der|al|bin|la|le|du)"
_ENTITY = re.compile(rf"{_CAP_WORD}(?:[ ]+(?:{_NAME_LINK}[ ]+)?{_CAP_WORD})*")
_PLACE = re.compile(
    rf"\b(?:in|at|near|outside|from)[ ]+(?P<the>the[ ]+)?"
    rf"(?P<place>{_CAP_WORD}(?:[ ]+{_CAP_WORD}){{0,3}})(?P<after>[ ]+[a-z]+)?"
)
# A number not inside a word or after a dot: several digits (inner "," and "." allowed) or one
# digit. It starts with the digit (the look-behind then checks the character before it), so
# the scan jumps from digit to digit.
_NUMBER = re.compile(r"\d(?<![\w.]\d)(?:[\d,.]*\d(?!\w)|(?![\w.,]))")
# Capitalised words that are not names even mid-sentence (titles, days, months, pronoun I).
_NOT_NAMES = frozenset(
    "i mr mrs ms dr prof the a an and but or if in on at to for of by with from as it he she they we you "
    "his her their our this that these those there here when while after before monday tuesday wednesday "
    "thursday friday saturday sunday january february march april may june july august september october "
    "november december president minister secretary deputy chief general sen rep gov said says according "
    "officials official police".split()
)
_STOP = ENGLISH_STOP_WORDS
_WORD_PATTERN = re.compile(_WORD)
_UNSPACED_RUN = re.compile(f"[{UNSPACED_CHARS}]+")


def lead_text(title: str | None, text: str, sentences: int) -> str:
    """The title and the first ``sentences`` sentences of the body, one per line (so that a
    name ending the title does not run into the first word of the text)."""
    return _join_lead(title, first_sentences(text, sentences))


def _join_lead(title: str | None, first: list[str]) -> str:
    """The title (when there is one) and the first sentences, one per line."""
    return "\n".join(([title] if title else []) + first)


# A name phrase (what ``_ENTITY`` finds), with the sentence opening right before it if there
# is one: a full stop, question or exclamation mark (with closing quotes or brackets) and a
# space, or a line break; then an optional opening quote or bracket. No opening holds a capital
# and none starts inside a name, so one scan finds the phrases ``_ENTITY`` finds and which ones
# open a sentence. Every match starts with one character of a set, so the scan jumps from one
# such character to the next.
_OPENED_NAME = re.compile(
    rf"[A-Z.!?\n](?:(?<=[A-Z])(?:[\w'’.-]*\w)?(?:[ ]+(?:{_NAME_LINK}[ ]+)?{_CAP_WORD})*"
    rf"|(?<=[.!?])['\")\]]*\s+['\"(\[]?{_ENTITY.pattern}|(?<=\n)\s*['\"(\[]?{_ENTITY.pattern})"
)
_LOWER_WORD = re.compile(r"\b[a-z][\w'’-]*")
_TITLE_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _name_word(word: str) -> str:
    """``word`` without a possessive ``'s`` and without edge dots, apostrophes and hyphens."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    return word.strip(".'’-")


def _opened_names(text: str) -> list[str]:
    """The name phrases of ``text`` in order; one that opens a sentence comes with the opening
    before it (a line break for one that opens the text), so it starts with no capital."""
    names = _OPENED_NAME.findall(text)
    if "A" <= text[:1] <= "Z":
        names[0] = "\n" + names[0]
    return names


@dataclass
class _NamePhrases:
    """The features of the name phrases met so far (:func:`_name_features` of their words),
    shared by the articles of a batch: ``whole`` by phrase; ``opened`` by phrase with its
    sentence opening (see :func:`_opened_names`): the first word (lower-cased; None when
    dropping it changes nothing), the features of all words and those without the first."""

    whole: dict[str, tuple[str, ...]] = field(default_factory=dict)
    opened: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.whole) + len(self.opened)

    def features(self, phrase: str) -> tuple[str, ...]:
        """The features of ``phrase``."""
        found = self.whole.get(phrase)
        if found is None:
            found = self.whole[phrase] = tuple(_name_features([_name_word(w) for w in phrase.split()]))
        return found

    def opening(self, name: str) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
        """The first word and the features with and without it of the phrase of ``name``, a
        phrase with its sentence opening."""
        found = self.opened.get(name)
        if found is None:
            phrase = _ENTITY.findall(name)[0]  # the phrase after its opening
            words = [_name_word(w) for w in phrase.split()]
            whole, rest = self.features(phrase), tuple(_name_features(words[1:]))
            found = self.opened[name] = (words[0].lower() if whole != rest else None, whole, rest)
        return found


# The name phrases met by this process's earlier batches: names recur from batch to batch, and
# a phrase's features depend on the phrase alone. Replaced by an empty one once it holds more
# than ``_KEPT_PHRASES`` entries, so its memory stays bounded.
_PHRASES = _NamePhrases()
_KEPT_PHRASES = 400_000


def _is_word_char(char: str) -> bool:
    """Whether ``char`` can be in a word: a letter, digit, ``_``, apostrophe or hyphen."""
    return char.isalnum() or char in "_'’-"


def _writes_in_lower_case(text: str, word: str) -> bool:
    """Whether ``word`` is one of the words ``_LOWER_WORD`` finds in ``text`` (the words that
    start in lower case): whether the text holds it as a whole run of word characters, found
    by substring search. Only where the word ends a run after an apostrophe or hyphen (the
    pattern may have started earlier in that run) are all those words found."""
    if not _LOWER_WORD.fullmatch(word):
        return False
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if end == len(text) or not _is_word_char(text[end]):
            before = text[at - 1] if at else " "
            if not _is_word_char(before):
                return True
            if before in "'’-":
                return word in _LOWER_WORD.findall(text)
        at = text.find(word, at + 1)
    return False


def extract_entities(text: str, title: str | None = None, dateline: str | None = None) -> list[str]:
    """Entity features of an article: name phrases, their last words, numbers, dateline.

    A capitalised word that opens a sentence counts only when the article also writes it
    capitalised mid-sentence or never in lower case (so "Officials said" does not make
    "Officials" a name). A multi-word name also contributes its last word, so
    "Sergei Ryabkov" and "Ryabkov" match.

    Title words ("Deputy Foreign Minister") split a phrase into separate names, so the
    person is ``sergei_ryabkov`` whatever title an outlet gives him; a possessive ``'s`` is
    dropped. A title written in title case ("Talks End With No Deal") only contributes the
    words the body also capitalises, since there capitals do not mark names.

    >>> text = "Talks began. Deputy Minister Sergei Ryabkov met Wendy Sherman's team for talks in Geneva."
    >>> sorted(set(extract_entities(text)))
    ['geneva', 'ryabkov', 'sergei_ryabkov', 'sherman', 'wendy_sherman']
    """
    return _extract_entities(text, title, dateline, _NamePhrases())


def _extract_entities(text: str, title: str | None, dateline: str | None, phrases: _NamePhrases) -> list[str]:
    """:func:`extract_entities`, with the features of the name phrases kept in ``phrases``."""
    if title and _is_title_case(title):
        body_caps = set(" ".join(_ENTITY.findall(text)).lower().split())
        title = " ".join(w if w.lower() in body_caps else w.lower() for w in title.split())
    full = f"{title}\n{text}" if title else text
    names = _opened_names(full)
    distinct, known = dict.fromkeys(names), phrases.whole  # known: phrases without an opening
    found: dict[str, tuple[str, ...]] = {}
    # Sentence openers whose first word may or may not belong to the name.
    openers: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
    for name in distinct:
        if "A" <= name[0] <= "Z":
            features = known.get(name)
            found[name] = phrases.features(name) if features is None else features
            continue
        first, whole, rest = phrases.opening(name)
        if first is None:
            found[name] = whole
        else:
            openers.append((name, first, whole, rest))
    if openers:
        mid_sentence_caps = set(" ".join([name for name in distinct if "A" <= name[0] <= "Z"]).lower().split())
        for name, first, whole, rest in openers:
            skip_first = first not in mid_sentence_caps and (first in _STOP or _writes_in_lower_case(full, first))
            found[name] = rest if skip_first else whole
    entities = list(chain.from_iterable(map(found.__getitem__, names)))
    entities.extend(["#" + n.replace(",", "") for n in _NUMBER.findall(full)])
    if dateline:
        entities.extend(["_".join(dateline.lower().split())] * 3)
    return entities


def _name_features(words: list[str]) -> list[str]:
    """The features of a phrase's name words: each run of words between title or function
    words gives its joined name (when of several words) and its last word (when not a stop
    word)."""
    features: list[str] = []
    groups: list[list[str]] = [[]]
    for word in words:
        lower = word.lower()
        if not word or lower in _NOT_NAMES:
            groups.append([])  # a title or function word ends one name
        else:
            groups[-1].append(lower)
    for names in groups:
        if not names:
            continue
        if len(names) > 1:
            features.append("_".join(names))
        if names[-1] not in _STOP:
            features.append(names[-1])
    return features


def _is_title_case(title: str) -> bool:
    words = [w for w in _TITLE_WORD.findall(title) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def lead_places(lead: str) -> list[str]:
    """Places the lead puts the event in: capitalised names after in/at/near/outside/from.

    "the" + name + common noun is a modifier ("at the Ukrainian border"), not a place.

    >>> lead_places("Talks ended in Vienna on Monday, officials at NATO said, at the Ukrainian border.")
    ['@vienna', '@nato']
    """
    out = []
    for match in _PLACE.finditer(lead):
        if match["the"] and match["after"] and match["after"].strip() not in _STOP:
            continue
        words = [w.lower() for w in match["place"].split() if w.lower() not in _NOT_NAMES]
        if words:
            out.append("@" + "_".join(words))
    return out


def _primary_place(places: list[str], dateline: str | None) -> str | None:
    """Where an article puts its event: the dateline place, else the lead's first place
    (``places``: the lead places, then the dateline place when there is a dateline)."""
    if dateline:
        return places[-1]
    return places[0] if places else None


@dataclass(frozen=True)
class FeatureCounts:
    """Raw counts of the five blocks for a set of articles (rows align with the input)."""

    blocks: tuple[sp.csr_matrix, ...]
    vocabularies: tuple[np.ndarray, ...]
    #: Where each article puts its event: the dateline place, else the lead's first place.
    primary_places: list[str | None] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.blocks[0].shape[0]


def used_columns(rows: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``rows`` restricted to the columns they use (in the same order), and those columns."""
    held = np.zeros(rows.shape[1], dtype=bool)
    held[rows.indices] = True
    used = np.flatnonzero(held)
    position = np.empty(rows.shape[1], dtype=rows.indices.dtype)  # set for the used columns only
    position[used] = np.arange(len(used), dtype=rows.indices.dtype)
    return sp.csr_matrix((rows.data, position[rows.indices], rows.indptr), shape=(rows.shape[0], len(used))), used


def compact_columns(rows: sp.csr_matrix, vocabulary: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """``rows`` and ``vocabulary`` restricted to the columns the rows use, in the same order."""
    compact, used = used_columns(rows)
    return compact, vocabulary[used]


def _sorted_terms(column_of: Mapping[str, int]) -> tuple[list[str], np.ndarray]:
    """The terms of ``column_of`` (term -> column in order of first sight) sorted, and the
    sorted position of each first-sight column."""
    terms = sorted(column_of)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[[column_of[t] for t in terms]] = np.arange(len(terms))
    return terms, rank


def _count_tokens(counts: Iterable[Mapping[str, int]], n: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """The term counts of ``n`` articles as a float32 CSR matrix with sorted indices over the
    sorted vocabulary of the terms found (no column when no article holds a term)."""
    column_of: defaultdict[str, int] = defaultdict()
    column_of.default_factory = column_of.__len__  # a new term gets the next column
    indices: list[int] = []
    data: list[int] = []
    indptr = [0]
    for row in counts:
        indices.extend(map(column_of.__getitem__, row))
        data.extend(row.values())
        indptr.append(len(indices))
    if not column_of:  # no article holds a term
        return sp.csr_matrix((n, 0), dtype=np.float32), np.empty(0, dtype=object)
    terms, rank = _sorted_terms(column_of)
    matrix = sp.csr_matrix(
        (np.array(data, dtype=np.float32), rank[np.array(indices, dtype=np.int64)], np.array(indptr, dtype=np.int64)),
        shape=(n, len(terms)),
    )
    matrix.sort_indices()
    return matrix, np.array(terms, dtype=object)


def _count_occurrences(lists: Sequence[Sequence[str]], *, skip_empty: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """What :func:`_count_tokens` makes of the counts of the terms of each of ``lists`` (the
    empty term left out with ``skip_empty``), with the terms of all lists numbered and
    sorted by :func:`sorted_distinct`. Terms UTF-8 cannot encode (lone surrogates) are
    counted in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(lists)
    try:
        terms = pa.array(list(chain.from_iterable(lists)), type=pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        counters = [Counter(terms) for terms in lists]
        if skip_empty:
            for counter in counters:
                counter.pop("", None)
        return _count_tokens(counters, n)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, lists), dtype=np.int64, count=n))
    if skip_empty:
        kept = pc.greater(pc.binary_length(terms), 0)
        terms, rows = terms.filter(kept), rows[kept.to_numpy(zero_copy_only=False)]
    if not len(terms):  # no article holds a term
        return sp.csr_matrix((n, 0), dtype=np.float32), np.empty(0, dtype=object)
    vocabulary, columns = sorted_distinct(terms)
    matrix = sp.csr_matrix((np.ones(len(terms), dtype=np.float32), (rows, columns)), shape=(n, len(vocabulary)))
    matrix.sum_duplicates()
    return matrix, vocabulary


def sorted_distinct(terms: Any) -> tuple[np.ndarray, np.ndarray]:
    """The distinct strings of the Arrow array ``terms``, sorted (an object array), and the
    position in them of each of ``terms``. Arrow numbers the distinct strings in one pass and
    sorts them by UTF-8 bytes, which is code point order, as Python sorts strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(terms)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    vocabulary = np.empty(len(order), dtype=object)  # an object array even when empty
    vocabulary[:] = encoded.dictionary.take(pa.array(order)).to_pylist()
    return vocabulary, rank[encoded.indices.to_numpy()]


def _content_words(doc: str) -> list[str]:
    """The lower-cased words of ``doc`` that are not English stop words. A stretch of a script
    written without spaces (Chinese, Japanese, Thai, ...) gives its overlapping pairs of
    characters, the usual terms for searching such text without a dictionary.

    >>> _content_words("The talks in 日内瓦 ended")
    ['talks', '日内', '内瓦', 'ended']
    """
    lowered = doc.lower()
    if lowered.isascii() or not _UNSPACED_RUN.search(lowered):
        return [w for w in _WORD_PATTERN.findall(lowered) if w not in _STOP]
    words: list[str] = []
    start = 0
    for stretch in _UNSPACED_RUN.finditer(lowered):
        words += (w for w in _WORD_PATTERN.findall(lowered, start, stretch.start()) if w not in _STOP)
        chars = stretch.group()
        words += [chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)]
        start = stretch.end()
    words += (w for w in _WORD_PATTERN.findall(lowered, start) if w not in _STOP)
    return words


# Every byte of an ASCII character that cannot be in a word (not a letter, digit, "_", "'" or
# "-") mapped to a space; other bytes, those of UTF-8 multi-byte characters too, kept.
_WORD_RUN_BYTES = bytes(32 if c < 128 and not _is_word_char(chr(c)) else c for c in range(256))


def _run_words(run: str) -> list[str]:
    """The :func:`_content_words` of one run of a lower-cased text (see :func:`_count_words`)."""
    if not run.isascii() and _UNSPACED_RUN.search(run):
        return _content_words(run)
    if run.isalpha():  # the run is one word unless a single letter or a stop word
        return [] if len(run) == 1 or run in _STOP else [run]
    return [w for w in _WORD_PATTERN.findall(run) if w not in _STOP]


def _count_words(docs: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """How often each of ``docs`` holds each of its :func:`_content_words`: what
    ``_count_tokens`` makes of their word counts, computed over the batch's distinct runs.

    No word runs across an ASCII character that cannot be in a word (the pattern's characters
    are word characters, apostrophes and hyphens, and such a character is no word character
    for its boundaries either), so the words of a lower-cased text are the words of its runs
    between those characters, in order. Arrow splits the texts into runs and numbers the
    distinct ones; the words of each distinct run are found once, and each occurrence of a
    run counts its words.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(docs)
    spaced = [doc.lower().encode("utf-8", "replace").translate(_WORD_RUN_BYTES) for doc in docs]
    runs = pc.split_pattern(pa.array(spaced, type=pa.large_binary()).cast(pa.large_string()), " ")
    owner = pc.list_parent_indices(runs).to_numpy()
    encoded = pc.dictionary_encode(pc.list_flatten(runs))
    column_of: dict[str, int] = {}
    starts: list[int] = [0]
    words: list[int] = []  # run k's words: columns words[starts[k]:starts[k + 1]]
    for run in encoded.dictionary.to_pylist():
        words.extend(column_of.setdefault(word, len(column_of)) for word in _run_words(run))
        starts.append(len(words))
    if not column_of:  # no article holds a word
        return sp.csr_matrix((n, 0), dtype=np.float32), np.empty(0, dtype=object)
    terms, rank = _sorted_terms(column_of)
    first = np.asarray(starts, dtype=np.int64)
    run = encoded.indices.to_numpy()
    sizes = first[1:][run] - first[:-1][run]  # words of each occurrence's run
    total = int(sizes.sum())
    position = np.repeat(first[:-1][run] - (np.cumsum(sizes) - sizes), sizes) + np.arange(total)
    columns = rank[np.asarray(words, dtype=np.int64)[position]]
    occurrences = (np.repeat(owner, sizes), columns)
    matrix = sp.csr_matrix((np.ones(total, dtype=np.float32), occurrences), shape=(n, len(terms)))
    matrix.sum_duplicates()
    return matrix, np.array(terms, dtype=object)


def count_features(
    titles: Sequence[str | None],
    texts: Sequence[str],
    datelines: Sequence[str | None],
    *,
    lead_sentences: int,
) -> FeatureCounts:
    """Count the five feature blocks of a set of articles (see :data:`BLOCKS`).

    >>> counts = count_features(["Fire in Leeds"], ["A fire broke out in Leeds."], [None], lead_sentences=2)
    >>> [len(v) for v in counts.vocabularies]
    [2, 2, 1, 1, 1]
    """
    firsts = [first_sentences(x, lead_sentences) for x in texts]
    leads = [_join_lead(t, first) for t, first in zip(titles, firsts, strict=True)]
    global _PHRASES
    if len(_PHRASES) > _KEPT_PHRASES:
        _PHRASES = _NamePhrases()  # a call still using the full one keeps it
    phrases = _PHRASES
    entities = [_extract_entities(x, t, d, phrases) for t, x, d in zip(titles, texts, datelines, strict=True)]
    lead_entities = [
        _extract_entities(" ".join(first), t, d, phrases) for t, first, d in zip(titles, firsts, datelines, strict=True)
    ]
    places = [
        lead_places(lead) + (["@" + "_".join(d.lower().split())] if d else [])
        for lead, d in zip(leads, datelines, strict=True)
    ]
    body, body_vocab = _count_words([f"{t or ''}\n{x}" for t, x in zip(titles, texts, strict=True)])
    lead, lead_vocab = _count_words(leads)
    # Entity features are finished tokens (case and marks kept); an empty one, of a blank
    # dateline, is left out.
    ent, ent_vocab = _count_occurrences(entities, skip_empty=True)
    lead_ent, lead_ent_vocab = _count_occurrences(lead_entities, skip_empty=True)
    place, place_vocab = _count_occurrences(places, skip_empty=False)
    return FeatureCounts(
        blocks=(body, lead, ent, lead_ent, place),
        vocabularies=(body_vocab, lead_vocab, ent_vocab, lead_ent_vocab, place_vocab),
        primary_places=[_primary_place(p, d) for p, d in zip(places, datelines, strict=True)],
    )


class ArticleFields(Protocol):
    """Some articles' titles, texts and datelines, fetched when :meth:`fields` is called (in
    the process that counts them)."""

    def fields(self) -> tuple[Sequence[str | None], Sequence[str], Sequence[str | None]]: ...


@dataclass(frozen=True)
class _Fields:
    """Articles' fields held in memory."""

    titles: Sequence[str | None]
    texts: Sequence[str]
    datelines: Sequence[str | None]

    def fields(self) -> tuple[Sequence[str | None], Sequence[str], Sequence[str | None]]:
        return self.titles, self.texts, self.datelines


def _count_part(part: ArticleFields, lead_sentences: int) -> FeatureCounts:
    return count_features(*part.fields(), lead_sentences=lead_sentences)


def count_features_of_parts(
    parts: Sequence[ArticleFields], *, lead_sentences: int, pool: Executor | None = None
) -> FeatureCounts:
    """:func:`count_features` of the articles of ``parts``, one after another: each part is
    fetched and counted by itself (in the processes of ``pool`` when given), and the counts
    are merged. The result equals ``count_features`` of all the articles at once."""
    if not parts:
        return count_features([], [], [], lead_sentences=lead_sentences)
    if pool is None or len(parts) == 1:
        counted = [_count_part(part, lead_sentences) for part in parts]
    else:
        futures = [pool.submit(_count_part, part, lead_sentences) for part in parts]
        counted = [future.result() for future in futures]
    return counted[0] if len(counted) == 1 else merge_counts(counted)


def count_features_in_parallel(
    titles: Sequence[str | None],
    texts: Sequence[str],
    datelines: Sequence[str | None],
    *,
    lead_sentences: int,
    workers: int,
    chunk: int = 5_000,
    pool: Executor | None = None,
) -> FeatureCounts:
    """:func:`count_features` of chunks of ``chunk`` articles counted in ``workers``
    processes, merged: the result equals ``count_features`` of all articles. The processes
    are those of ``pool`` when given (so that later work can reuse them), else new ones."""
    n = len(texts)
    if workers < 2 or n <= chunk:
        return count_features(titles, texts, datelines, lead_sentences=lead_sentences)
    from dedup.minhash import process_pool

    parts = [
        _Fields(list(titles[start : start + chunk]), list(texts[start : start + chunk]),
                list(datelines[start : start + chunk]))
        for start in range(0, n, chunk)
    ]
    with nullcontext(pool) if pool is not None else process_pool(workers) as executor:
        return count_features_of_parts(parts, lead_sentences=lead_sentences, pool=executor)


def merge_counts(parts: Sequence[FeatureCounts]) -> FeatureCounts:
    """The counts of the articles of ``parts`` in order, over the union of their vocabularies.

    Each merged block is written straight into arrays of its final size: a part's sorted
    vocabulary maps in order into the sorted union, so its rows stay sorted as they are.
    """
    blocks, vocabularies = [], []
    n = sum(part.n for part in parts)
    for b in range(len(BLOCKS)):
        vocabulary, columns_of = _union_vocabulary([p.vocabularies[b] for p in parts])
        nnz = sum(part.blocks[b].nnz for part in parts)
        index_type = np.int32 if max(nnz, len(vocabulary)) < 2**31 else np.int64
        data = np.empty(nnz, dtype=np.float32)
        indices = np.empty(nnz, dtype=index_type)
        indptr = np.empty(n + 1, dtype=index_type)
        indptr[0] = row = at = 0
        for part, columns in zip(parts, columns_of, strict=True):
            block = part.blocks[b].tocsr()
            block.sort_indices()
            data[at : at + block.nnz] = block.data
            indices[at : at + block.nnz] = columns.astype(index_type, copy=False)[block.indices]
            indptr[row + 1 : row + 1 + block.shape[0]] = block.indptr[1:] + at
            row += block.shape[0]
            at += block.nnz
        blocks.append(sp.csr_matrix((data, indices, indptr), shape=(n, len(vocabulary))))
        vocabularies.append(vocabulary)
    return FeatureCounts(
        blocks=tuple(blocks),
        vocabularies=tuple(vocabularies),
        primary_places=[q for p in parts for q in p.primary_places],
    )


def _union_vocabulary(vocabularies: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted union of ``vocabularies`` (object arrays of distinct terms), and the
    column in it of each term of each (:func:`sorted_distinct`; terms that UTF-8 cannot
    encode, lone surrogates, take the same steps in Python).
    """
    import pyarrow as pa

    sizes = [len(v) for v in vocabularies]
    bounds = np.cumsum([0, *sizes])
    try:
        joined = pa.array(np.concatenate(vocabularies) if vocabularies else [], type=pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        terms = sorted(set().union(*(v.tolist() for v in vocabularies)))
        column_of = {term: k for k, term in enumerate(terms)}
        columns = [np.fromiter(map(column_of.__getitem__, v.tolist()), dtype=np.int64, count=len(v))
                   for v in vocabularies]
        return np.array(terms, dtype=object), columns
    union, column = sorted_distinct(joined)
    return union, [column[a:z] for a, z in pairwise(bounds.tolist())]


def tfidf(counts: sp.csr_matrix, *, local: bool = False, offset: float | None = None) -> sp.csr_matrix:
    """Sublinear tf times IDF over the given rows, L2-normalised.

    The IDF is ``ln((1+n)/(1+df)) + offset``. ``offset`` 1 (``local=False``) is the usual
    smoothed IDF. A small offset (``local=True`` is 0) is for IDF inside one story: a term
    found in every article of the story then weighs (almost) nothing, since shared words say
    nothing about which event an article reports; a small positive offset keeps a story of
    a few articles from treating every unshared word as decisive.
    """
    offset = (0.0 if local else 1.0) if offset is None else offset
    n = counts.shape[0]
    if counts.shape[1] == 0:
        return sp.csr_matrix(counts.shape, dtype=np.float32)  # no term at all in these rows
    counts = counts.tocsr()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + offset).astype(np.float32)
    data = (1.0 + np.log(counts.data, dtype=np.float32)) * idf[counts.indices]
    # The counts' index arrays are shared, not copied, and the new values are normalised in
    # place (normalising touches only the values).
    return l2_normalize(sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape), copy=False)


def weigh(
    counts: FeatureCounts,
    rows: np.ndarray | None,
    weights: Sequence[float],
    *,
    local: bool = False,
    offset: float | None = None,
) -> sp.csr_matrix:
    """Weighted, stacked TF-IDF of ``rows`` (all rows when None), IDF fitted on those rows.

    The result's dot products are the weighted means (by ``weights``, one per block of
    :data:`BLOCKS`) of the block cosine similarities.
    """
    total = float(sum(weights))
    parts = []
    for block, weight in zip(counts.blocks, weights, strict=True):
        # Of a subset, only the columns its rows use: the rest add nothing to any dot product,
        # and weighing the whole batch vocabulary for every story would cost stories x vocabulary.
        sub = block if rows is None else used_columns(block[rows])[0]
        part = tfidf(sub, local=local, offset=offset)
        part.data *= np.float32(np.sqrt(weight / total))
        parts.append(part)
    return sp.hstack(parts, format="csr", dtype=np.float32)


def weigh_split(
    counts: FeatureCounts, weights: Sequence[float], *, max_df: int, rows_at_once: int = 16_384
) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """:func:`weigh` of all rows (IDF over all of them) as two matrices that sum to it: its
    columns found in at most ``max_df`` rows, and the others (None when there are none).

    Rows are weighed ``rows_at_once`` at a time into arrays of their final size, so the
    memory needed is the two parts' own, not that of the stacked matrix and its copies; a
    step's temporary arrays are small enough for the allocator to reuse for the next step
    (:func:`dedup.memory.keep_freed_memory`) instead of mapping fresh pages for each.
    """
    total = float(sum(weights))
    n = counts.n
    blocks = [block.tocsr() for block in counts.blocks]
    scales = [np.float32(np.sqrt(weight / total)) for weight in weights]
    idfs, common_of = [], []
    for block in blocks:
        df = np.bincount(block.indices, minlength=block.shape[1])
        idfs.append((np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32))
        common_of.append(df > max_df)
    is_common = np.concatenate(common_of) if common_of else np.zeros(0, dtype=bool)
    chunks = [(a, min(a + rows_at_once, n)) for a in range(0, n, rows_at_once)]

    # The entries of each row in the common part, then where each row starts in either part.
    common_len = np.zeros(n, dtype=np.int64)
    for block, common in zip(blocks, common_of, strict=True):
        for a, b in chunks:
            lo, hi = int(block.indptr[a]), int(block.indptr[b])
            held = np.concatenate([[0], np.cumsum(common[block.indices[lo:hi]], dtype=np.int64)])
            common_len[a:b] += np.diff(held[block.indptr[a : b + 1] - lo])
    all_len = sum(np.diff(block.indptr) for block in blocks) if blocks else np.zeros(n, dtype=np.int64)
    starts = [np.concatenate([[0], np.cumsum(length)]) for length in (all_len - common_len, common_len)]
    width = len(is_common)
    index_type = np.int32 if max(width, int(starts[0][-1]), int(starts[1][-1])) < 2**31 else np.int64
    data = [np.empty(int(s[-1]), dtype=np.float32) for s in starts]
    indices = [np.empty(int(s[-1]), dtype=index_type) for s in starts]

    for a, b in chunks:
        parts = []
        for block, idf, scale in zip(blocks, idfs, scales, strict=True):
            rows = block[a:b]
            if rows.nnz == 0:
                parts.append(sp.csr_matrix(rows.shape, dtype=np.float32))
                continue
            values = (1.0 + np.log(rows.data, dtype=np.float32)) * idf[rows.indices]
            part = l2_normalize(sp.csr_matrix((values, rows.indices, rows.indptr), shape=rows.shape), copy=False)
            part.data *= scale
            parts.append(part)
        stacked = sp.hstack(parts, format="csr", dtype=np.float32)
        common = is_common[stacked.indices]
        for k, mask in enumerate((~common, common)):
            lo, hi = int(starts[k][a]), int(starts[k][b])
            data[k][lo:hi] = stacked.data[mask]
            indices[k][lo:hi] = stacked.indices[mask]
    rare, common_part = (sp.csr_matrix((data[k], indices[k], starts[k]), shape=(n, width)) for k in (0, 1))
    return rare, common_part if common_part.nnz else None


def weigh_within(
    blocks: Sequence[sp.csr_matrix], groups: np.ndarray, weights: Sequence[float], *, offset: float
) -> sp.csr_matrix:
    """:func:`weigh` of every group of rows at once, IDF fitted inside each group.

    ``blocks`` are the count blocks of the rows (:attr:`FeatureCounts.blocks`, or their
    columns in use, :func:`used_columns`): weights depend on the counts alone. Row ``i`` of
    the result equals its row in ``weigh(counts, rows, weights, offset=offset)`` with
    ``rows`` the rows of its group (``groups[i]``; labels 0..k-1), over the batch columns:
    dot products of rows of one group are the same, and no per-group work is done.
    """
    total = float(sum(weights))
    sizes = np.bincount(groups)
    n_rows = len(groups)
    parts = []
    for block, weight in zip(blocks, weights, strict=True):
        block = block.tocsr()
        n_terms = block.shape[1]
        if n_terms == 0 or block.nnz == 0:
            parts.append(sp.csr_matrix(block.shape, dtype=np.float32))
            continue
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        # Document frequency of every (group, term): the group's count of rows holding it.
        df_of = _rows_holding(block, groups, np.arange(n_rows), len(sizes))
        group_of = groups[rows]
        # Each entry's (group, term) looked up among those of df_of, as one sorted key each.
        held = np.repeat(np.arange(len(sizes), dtype=np.int64), np.diff(df_of.indptr)) * n_terms + df_of.indices
        df = df_of.data[np.searchsorted(held, group_of * n_terms + block.indices)]
        n = sizes[group_of]
        idf = (np.log((1.0 + n) / (1.0 + df)) + offset).astype(np.float32)
        data = (1.0 + np.log(block.data)).astype(np.float32) * idf
        weighted = sp.csr_matrix((data, block.indices, block.indptr), shape=block.shape)
        part = l2_normalize(weighted, copy=False)  # new values, shared index arrays
        part.data *= np.float32(np.sqrt(weight / total))
        parts.append(part)
    return sp.hstack(parts, format="csr", dtype=np.float32)


def top_entities(entity_lists: Sequence[Sequence[str]], k: int) -> list[str]:
    """The ``k`` names most articles mention (multi-word names first on ties), readable."""
    counts: Counter[str] = Counter()
    for entities in entity_lists:
        counts.update({e for e in entities if not e.startswith(("#", "@"))})
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0].count("_"), kv[0]))
    return [name.replace("_", " ").title() for name, _ in ranked[:k]]


def top_entities_of_groups(counts: FeatureCounts, groups: Sequence[Sequence[int]], k: int) -> list[list[str]]:
    """:func:`top_entities` of the entity lists of each group of rows, from the entity
    block of ``counts`` for all groups at once (the block's vocabulary is sorted, so its
    column order is the order of the names)."""
    block, vocabulary = counts.blocks[2].tocsr(), counts.vocabularies[2]
    if not groups:
        return []
    _, rows, owner = flatten_groups(groups)
    articles = _rows_holding(block, owner, rows, len(groups))  # articles of each group mentioning each term
    terms = vocabulary.tolist()
    is_name = np.fromiter((not t.startswith(("#", "@")) for t in terms), dtype=bool, count=len(terms))
    parts = np.fromiter((t.count("_") for t in terms), dtype=np.int64, count=len(terms))
    group_of = np.repeat(np.arange(len(groups)), np.diff(articles.indptr))
    keep = is_name[articles.indices]
    group_of, columns, mentions = group_of[keep], articles.indices[keep], articles.data[keep]
    # Entries are in (group, column) order already: a stable sort on one key of the group, the
    # mentions (descending) and the name's words (descending) keeps the columns' order in ties.
    rank_parts = int(parts.max(initial=0)) + 1
    most = int(mentions.max(initial=0))
    if len(groups) * (most + 1) * rank_parts < 2**62:
        key = (group_of * (most + 1) + (most - mentions.astype(np.int64))) * rank_parts + (
            rank_parts - 1 - parts[columns])
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((columns, -parts[columns], -mentions, group_of))
    group_of, columns = group_of[order], columns[order]
    starts = np.searchsorted(group_of, np.arange(len(groups) + 1))
    # Each group's first k, each name made readable once.
    taken = np.minimum(np.diff(starts), k)
    ends = np.cumsum(taken)
    chosen = columns[np.repeat(starts[:-1] - (ends - taken), taken) + np.arange(int(ends[-1]) if len(ends) else 0)]
    used, where = np.unique(chosen, return_inverse=True)
    readable = np.array([terms[c].replace("_", " ").title() for c in used.tolist()], dtype=object)
    flat = readable[where].tolist()
    bounds = [0, *ends.tolist()]
    return [flat[a:b] for a, b in pairwise(bounds)]


def flatten_groups(groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of rows as flat arrays: each group's size, all rows group after group, and
    the group of each of those rows."""
    sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    rows = np.fromiter((r for g in groups for r in g), dtype=np.int64, count=int(sizes.sum()))
    return sizes, rows, np.repeat(np.arange(len(groups)), sizes)


def _rows_holding(block: sp.csr_matrix, owner: np.ndarray, rows: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """``(n_groups, terms)`` counts: how many of the rows ``rows`` of each group (``owner``)
    hold each term of ``block``; sorted indices."""
    membership = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (owner, rows)), shape=(n_groups, block.shape[0]))
    holds = sp.csr_matrix((np.ones(block.nnz, dtype=np.int32), block.indices, block.indptr), shape=block.shape)
    counts = (membership @ holds).tocsr()
    counts.sort_indices()
    return counts
