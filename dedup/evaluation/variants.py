"""Synthetic syndicated copies of real articles, for scoring near-duplicate detection.

A wire story republished by another site is rarely byte-identical: the site wraps it in its
own furniture (bylines, share buttons, copyright lines, related-story lists), a copy editor
drops or changes a few words, the story is cut to fit, and the text is re-flowed. The
:func:`make_variants` function applies a random mix of those changes to real articles and
labels every copy with the article it came from, so a detector can be scored on copies whose
ground truth is known.

The generator is deterministic: the copies of an article depend only on its id, its text,
the seed and the settings, not on the other articles of the batch.

Example:
    >>> variants = make_variants([("a1", "Rain fell. The river rose. Roads closed.")], copies=1, seed=3)
    >>> [(v.id, v.group) for v in variants]
    [('a1', 'a1'), ('a1~v1', 'a1')]
"""

from __future__ import annotations

import hashlib
import itertools
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BOILERPLATE_FOOTERS", "BOILERPLATE_HEADERS", "TRANSFORMS", "Variant", "make_variants"]

TRANSFORMS: tuple[str, ...] = ("header", "footer", "edits", "truncate", "case", "whitespace")
"""Names of the changes a copy can receive, in the order they are applied."""

# Site furniture of a republishing site. Placeholders are filled per copy; "\n" separates
# the lines of multi-line blocks.
BOILERPLATE_HEADERS: tuple[str, ...] = (
    "Advertisement",
    "Share this article",
    "Share on Facebook | Share on Twitter | Email this story",
    "By {name}, {site}",
    "Posted on {date} by {name}",
    "Last updated: {date}, {time}",
    "Home > News > {section}",
    "{site} | {section}",
    "Print | Email | Comments ({n})",
    "Text size: A A A",
    "Listen to this article",
    "BREAKING NEWS",
    "From wire reports",
    "Skip to main content\nSign in | Register",
    "This site uses cookies. By continuing to browse the site you agree to our use of cookies.",
    "{section}\nPublished {date}",
)
BOILERPLATE_FOOTERS: tuple[str, ...] = (
    "Copyright {year} {site}. All rights reserved.",
    (
        "(c) {year} {site}. All rights reserved. This material may not be published, broadcast, "
        "rewritten or redistributed."
    ),
    "Click here to subscribe to our newsletter",
    "Related stories:\n- {story}\n- {story2}\n- {story3}",
    "Related\n{story}\n{story2}",
    "Comments ({n})\nLeave a comment\nYou must be logged in to post a comment.",
    "What do you think? Tell us in the comments below.",
    "Have a story idea? Contact the newsroom.",
    "Follow us on Twitter and Facebook for the latest updates.",
    "Tags: {tags}",
    "Advertisement",
    "Reporting by {name}; editing by {name2}",
    "Additional reporting by {name}.",
    "Posted in {section} | {n} comments",
    "Share this:\nFacebook\nTwitter\nEmail\nPrint",
    "Read more {section} news at {site}",
    "We use cookies to improve your experience. By using this site you accept our cookie policy.",
    "Back to top",
    "The views expressed in the comments are those of our readers.",
    "Like this story? Share it with a friend.",
)
_NAMES = (
    "Jane Miller",
    "David Chen",
    "Maria Lopez",
    "Tom Baker",
    "Sarah O'Neil",
    "Ahmed Khan",
    "Emily Stone",
)
_SITES = ("Daily Courier", "Metro Herald", "Valley Tribune Online", "The Evening Ledger", "Newswire Today")
_SECTIONS = ("World", "US News", "Entertainment", "Sports", "Business", "Crime", "Technology", "Local")
_STORIES = (
    "Council approves new budget after long debate",
    "Storm expected to bring heavy rain this weekend",
    "Local school wins national science award",
    "Fuel prices rise for a third week",
    "Police appeal for witnesses after late-night crash",
    "Ten things to do in the city this weekend",
    "Opinion: what the new rules mean for you",
    "Photos: the week in pictures",
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Short words a copy editor's slip typically introduces.
_FILLER_WORDS = ("the", "a", "and", "also", "said", "on", "new", "its", "after", "reported")
_CASE_CHANGES = ("upper_title", "lower_sentence", "upper_sentence")
_WHITESPACE_CHANGES = ("rewrap", "double_spaces", "blank_lines", "indent")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")


@dataclass(frozen=True, slots=True)
class Variant:
    """An original article or a synthetic copy of one.

    Attributes:
        id: The original's id, or ``<original id>~v<k>`` for its k-th copy.
        text: The text.
        group: Id of the original; an original and its copies share it.
        transforms: Changes applied, in order (see :data:`TRANSFORMS`); empty for originals.
    """

    id: str
    text: str
    group: str
    transforms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Settings:
    p_transform: float
    edit_rate: tuple[float, float]
    keep_fraction: tuple[float, float]
    transforms: tuple[str, ...]


def make_variants(
    articles: Sequence[tuple[str, str]],
    *,
    copies: int = 2,
    seed: int = 0,
    p_transform: float = 0.5,
    edit_rate: tuple[float, float] = (0.01, 0.05),
    keep_fraction: tuple[float, float] = (0.7, 0.9),
    transforms: Sequence[str] = TRANSFORMS,
) -> list[Variant]:
    """Return every article followed by ``copies`` syndicated copies of it.

    Each copy receives every change of ``transforms`` independently with probability
    ``p_transform`` (one drawn at random when none was picked):

    - ``header`` / ``footer``: 1-3 lines of site furniture (:data:`BOILERPLATE_HEADERS`,
      :data:`BOILERPLATE_FOOTERS`) with random names, dates and related stories.
    - ``edits``: a share of the words drawn from ``edit_rate`` (at least one word) is
      dropped, doubled, or replaced by another word of the article or a short filler word.
    - ``truncate``: the text is cut to a share drawn from ``keep_fraction`` of its
      characters, at the sentence end nearest that point, else at a word boundary.
    - ``case``: the title line upper-cased, or one sentence lower- or upper-cased.
    - ``whitespace``: lines re-wrapped at 50-80 characters, doubled spaces, blank lines
      between sentences, or indented lines.

    A copy is never identical to its original: if the drawn changes left the text as it
    was, a header is added.

    Args:
        articles: ``(id, text)`` of real articles; ids must be unique.
        copies: Copies per article.
        seed: Seed of the random generator (``numpy`` ``PCG64``); same input, seed and
            settings give identical output.
        p_transform: Probability of each change.
        edit_rate: ``(low, high)`` share of words edited in a copy.
        keep_fraction: ``(low, high)`` share of the text kept by a truncation.
        transforms: The changes to draw from, a subset of :data:`TRANSFORMS`.

    Returns:
        For each article in input order: the original (``group == id``), then its copies
        ``<id>~v1`` ... ``<id>~v<copies>``.

    Raises:
        ValueError: A repeated id or an out-of-range setting.
    """
    settings = _Settings(
        p_transform,
        _as_range(edit_rate, "edit_rate"),
        _as_range(keep_fraction, "keep_fraction"),
        tuple(transforms),
    )
    _check_settings(articles, copies, seed, settings)
    variants: list[Variant] = []
    for article_id, text in articles:
        rng = np.random.Generator(np.random.PCG64([seed, _id_key(article_id)]))
        variants.append(Variant(article_id, text, article_id))
        for k in range(1, copies + 1):
            copy_text, applied = _make_copy(text, rng, settings)
            variants.append(Variant(f"{article_id}~v{k}", copy_text, article_id, applied))
    return variants


def _as_range(pair: Sequence[float], name: str) -> tuple[float, float]:
    if len(pair) != 2:
        raise ValueError(f"{name} must be a (low, high) pair, got {pair!r}")
    return float(pair[0]), float(pair[1])


def _check_settings(articles: Sequence[tuple[str, str]], copies: int, seed: int, settings: _Settings) -> None:
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    if not 0.0 <= settings.p_transform <= 1.0:
        raise ValueError(f"p_transform must be in [0, 1], got {settings.p_transform}")
    for name, (low, high) in (("edit_rate", settings.edit_rate), ("keep_fraction", settings.keep_fraction)):
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"{name} must be (low, high) with 0 <= low <= high <= 1, got {(low, high)}")
    unknown = sorted(set(settings.transforms) - set(TRANSFORMS))
    if unknown or not settings.transforms:
        raise ValueError(f"transforms must be a non-empty subset of {TRANSFORMS}, got unknown {unknown}")
    ids = [article_id for article_id, _ in articles]
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)[:5]
        raise ValueError(f"article ids must be unique; repeated: {repeated}")


def _id_key(article_id: str) -> int:
    # A stable per-article stream: Python's hash() of a str changes between runs.
    return int.from_bytes(hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest(), "little")


def _make_copy(text: str, rng: np.random.Generator, settings: _Settings) -> tuple[str, tuple[str, ...]]:
    chosen = _choose_transforms(rng, settings)
    applied: list[str] = []
    body = text
    for name in ("edits", "truncate", "case", "whitespace"):
        if name in chosen:
            changed = _BODY_CHANGES[name](body, rng, settings)
            if changed != body:
                applied.append(name)
                body = changed
    header = _draw_boilerplate(BOILERPLATE_HEADERS, text, rng) if "header" in chosen else ""
    footer = _draw_boilerplate(BOILERPLATE_FOOTERS, text, rng) if "footer" in chosen else ""
    if not header and not footer and body == text:
        header = _draw_boilerplate(BOILERPLATE_HEADERS, text, rng)
    applied = (["header"] if header else []) + (["footer"] if footer else []) + applied
    parts = [header, body, footer]
    separator = "\n\n" if rng.random() < 0.5 else "\n"
    return separator.join(part for part in parts if part), tuple(n for n in TRANSFORMS if n in applied)


def _choose_transforms(rng: np.random.Generator, settings: _Settings) -> set[str]:
    draws = rng.random(len(settings.transforms))
    chosen = {
        name for name, draw in zip(settings.transforms, draws, strict=True) if draw < settings.p_transform
    }
    if not chosen:
        chosen = {settings.transforms[int(rng.integers(len(settings.transforms)))]}
    return chosen


# ---------------------------------------------------------------------------- boilerplate


def _draw_boilerplate(templates: Sequence[str], article: str, rng: np.random.Generator) -> str:
    count = int(rng.integers(1, 4))
    picks = rng.choice(len(templates), size=min(count, len(templates)), replace=False)
    return "\n".join(_fill(templates[int(i)], article, rng) for i in picks)


def _fill(template: str, article: str, rng: np.random.Generator) -> str:
    names = _pick(_NAMES, rng, 2)
    stories = _pick(_STORIES, rng, 3)
    year = int(rng.integers(2005, 2015))
    fields = {
        "name": names[0],
        "name2": names[1],
        "site": _pick(_SITES, rng, 1)[0],
        "section": _pick(_SECTIONS, rng, 1)[0],
        "date": _random_date(rng, year),
        "time": _random_time(rng),
        "year": str(year),
        "n": str(int(rng.integers(0, 250))),
        "story": stories[0],
        "story2": stories[1],
        "story3": stories[2],
        "tags": ", ".join(_tags(article, rng)),
    }
    return template.format(**fields)


def _pick(options: Sequence[str], rng: np.random.Generator, k: int) -> list[str]:
    return [options[int(i)] for i in rng.choice(len(options), size=k, replace=False)]


def _random_date(rng: np.random.Generator, year: int) -> str:
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    styles = (
        f"{_MONTHS[month - 1]} {day}, {year}",
        f"{year}-{month:02d}-{day:02d}",
        f"{day:02d}/{month:02d}/{year}",
    )
    return styles[int(rng.integers(len(styles)))]


def _random_time(rng: np.random.Generator) -> str:
    hour, minute = int(rng.integers(1, 13)), int(rng.integers(0, 60))
    return f"{hour}:{minute:02d} {'AM' if rng.random() < 0.5 else 'PM'}"


def _tags(article: str, rng: np.random.Generator) -> list[str]:
    words = sorted(set(re.findall(r"[A-Z][a-z]{3,}", article)))
    if not words:
        return _pick(_SECTIONS, rng, 2)
    return [words[int(i)] for i in rng.choice(len(words), size=min(3, len(words)), replace=False)]


# ----------------------------------------------------------------------------- body edits


def _copy_edit(text: str, rng: np.random.Generator, settings: _Settings) -> str:
    lines = [line.split() for line in text.split("\n")]
    positions = [(li, wi) for li, words in enumerate(lines) for wi in range(len(words))]
    if not positions:
        return text
    rate = rng.uniform(*settings.edit_rate)
    count = min(len(positions), max(1, round(rate * len(positions))))
    vocabulary = [word for words in lines for word in words]
    edits: dict[tuple[int, int], str] = {}
    for index in rng.choice(len(positions), size=count, replace=False):
        li, wi = positions[int(index)]
        word = lines[li][wi]
        kind = int(rng.integers(3))
        if kind == 0:
            edits[(li, wi)] = ""  # dropped
        elif kind == 1:
            edits[(li, wi)] = f"{word} {word}"  # doubled
        else:
            pool = vocabulary if rng.random() < 0.5 else _FILLER_WORDS
            edits[(li, wi)] = pool[int(rng.integers(len(pool)))]
    return "\n".join(
        " ".join(w for w in (edits.get((li, wi), word) for wi, word in enumerate(words)) if w)
        for li, words in enumerate(lines)
    )


def _truncate(text: str, rng: np.random.Generator, settings: _Settings) -> str:
    low, high = (int(f * len(text)) for f in settings.keep_fraction)
    target = int(rng.integers(low, high + 1))
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text)] + [
        i for i, c in enumerate(text) if c == "\n"
    ]
    word_ends = [i for i, c in enumerate(text) if c.isspace()]
    for cuts in (sentence_ends, word_ends):
        inside = [c for c in cuts if low <= c <= high]
        if inside:
            cut = min(inside, key=lambda c: (abs(c - target), c))
            return text[:cut].rstrip()
    return text


def _change_case(text: str, rng: np.random.Generator, settings: _Settings) -> str:
    lines = text.split("\n")
    options = list(_CASE_CHANGES)
    if len(lines) < 2 or len(lines[0].split()) > 25:
        options.remove("upper_title")
    change = options[int(rng.integers(len(options)))]
    if change == "upper_title":
        return "\n".join([lines[0].upper(), *lines[1:]])
    spans = _sentence_spans(text)
    if not spans:
        return text
    start, end = spans[int(rng.integers(len(spans)))]
    sentence = text[start:end].lower() if change == "lower_sentence" else text[start:end].upper()
    return text[:start] + sentence + text[end:]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    # A title line has no final punctuation: line breaks end sentences too.
    ends = [m.end() for m in _SENTENCE_END.finditer(text)] + [i for i, c in enumerate(text) if c == "\n"]
    bounds = sorted({0, len(text), *ends})
    spans = []
    for start, end in itertools.pairwise(bounds):
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            offset = start + piece.index(stripped)
            spans.append((offset, offset + len(stripped)))
    return spans


def _change_whitespace(text: str, rng: np.random.Generator, settings: _Settings) -> str:
    change = _WHITESPACE_CHANGES[int(rng.integers(len(_WHITESPACE_CHANGES)))]
    lines = text.split("\n")
    if change == "rewrap":
        width = int(rng.integers(50, 81))
        return "\n".join(textwrap.fill(line, width=width) if line.strip() else line for line in lines)
    if change == "double_spaces":
        gaps = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", text)]
        if not gaps:
            return text
        chosen = {gaps[int(i)] for i in rng.choice(len(gaps), size=max(1, len(gaps) // 10), replace=False)}
        return "".join(c + " " if i in chosen else c for i, c in enumerate(text))
    if change == "blank_lines":
        return _SENTENCE_END.sub(lambda m: m.group(0) + "\n", text).replace("\n ", "\n\n")
    return "\n".join("    " + line if line.strip() else line for line in lines)


_BODY_CHANGES = {
    "edits": _copy_edit,
    "truncate": _truncate,
    "case": _change_case,
    "whitespace": _change_whitespace,
}
