"""Text primitives shared by every stage: normalisation, tokens, sentences, shingles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

__all__ = [
    "UNSPACED_CHARS",
    "ascii_token_lines",
    "copy_text",
    "copy_texts",
    "count_words",
    "first_sentences",
    "normalize",
    "normalize_for_hash",
    "split_sentences",
    "tokenize",
]

# Zero-width and byte-order characters carry no text and break token boundaries.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2032": "'",
    }
)
_INVISIBLE_PAIRS = tuple((chr(code), "") for code in _INVISIBLE)
_QUOTE_PAIRS = tuple((chr(code), value) for code, value in _QUOTES.items())
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
#: Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, kana and Han), as
#: the body of a regular expression character class. Each of their characters is a token, as
#: word segmentation would need a dictionary per language; their 5-grams of characters then
#: play the part of 5-grams of words.
UNSPACED_CHARS = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"  # kana, Han
)
_WORD_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*")
_TOKEN = re.compile(rf"[{UNSPACED_CHARS}]|[^\W{UNSPACED_CHARS}]+(?:['\u2019][^\W{UNSPACED_CHARS}]+)*")
_UNSPACED_CHAR = re.compile(f"[{UNSPACED_CHARS}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])  # what _CONTROL matches


def normalize(text: str) -> str:
    """Canonical form of article text: NFC, no invisible or control characters, plain quotes,
    single spaces within lines, ``\\n`` line breaks.

    >>> normalize("A\\u00a0 “quote”\\r\\nB")
    'A "quote"\\nB'
    """
    if not text.isascii():  # invisible characters go first: one may sit between a letter and its accent
        text = unicodedata.normalize("NFC", _replace_all(_replace_all(text, _INVISIBLE_PAIRS), _QUOTE_PAIRS))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _holds_control(text):
        text = _CONTROL.sub(" ", text)
    if _is_spaced_plainly(text):
        return text
    return "\n".join(_normalize_line(line) for line in text.split("\n"))


def _holds_control(text: str) -> bool:
    """Whether ``_CONTROL`` finds a character in ``text`` (for ASCII text by a byte deletion,
    much faster than the pattern)."""
    if text.isascii():
        data = text.encode("ascii")
        return len(data.translate(None, _CONTROL_BYTES)) != len(data)
    return _CONTROL.search(text) is not None


def _is_spaced_plainly(text: str) -> bool:
    """True when ``text`` (control characters replaced) is ASCII with single spaces only, none at
    the start or end of a line: :func:`_normalize_line` would leave every line as it is."""
    return (
        text.isascii()
        and "  " not in text
        and "\t" not in text
        and " \n" not in text
        and "\n " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
    )


def _replace_all(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    # Same result as str.translate with a table of single characters, but each character is
    # found by a fast substring scan: translate looks up every character of a non-ASCII string.
    for old, new in pairs:
        if old in text:
            text = text.replace(old, new)
    return text


def _normalize_line(line: str) -> str:
    # Most lines hold single ASCII spaces only, and the substitution would change nothing.
    if line.isascii() and "  " not in line and "\t" not in line and "\f" not in line and "\v" not in line:
        return line.strip()
    return _SPACES.sub(" ", line).strip()


def copy_text(title: str | None, text: str) -> str:
    """The text that near-duplicate detection shingles: the headline, when there is one, then
    the body.

    Cleaning tells headline from body by heuristics, and a copy can fool them where its
    original did not (a hard-wrapped first line taken for a headline, a headline the other
    site left off). With both in the shingles, where that line falls never decides whether
    two pages are copies. A text that starts with its headline (a one-line text, which is its
    own headline) is not given it twice.

    >>> copy_text("Storm closes roads", "Schools stayed shut.")
    'Storm closes roads\\nSchools stayed shut.'
    >>> copy_text(None, "Schools stayed shut.")
    'Schools stayed shut.'
    >>> copy_text("Schools stayed shut", "Schools stayed shut as the storm closed roads.")
    'Schools stayed shut as the storm closed roads.'
    """
    return text if not title or text.startswith(title) else f"{title}\n{text}"


def copy_texts(titles: Iterable[str | None], texts: Iterable[str]) -> list[str]:
    """:func:`copy_text` of each title and text (two columns of the same length)."""
    return [copy_text(title, text) for title, text in zip(titles, texts, strict=True)]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; inner apostrophes kept). In scripts written
    without spaces (Chinese, Japanese, Thai, ...) each character is a token.

    >>> tokenize("U.S. talks, Ryabkov's view")
    ['u', 's', 'talks', "ryabkov's", 'view']
    >>> tokenize("日内瓦会谈 in Geneva")
    ['日', '内', '瓦', '会', '谈', 'in', 'geneva']
    """
    if text.isascii():
        return _ascii_tokens(text).decode("ascii").split()
    return _tokens(text.lower())


def _tokens(text: str) -> list[str]:
    """The tokens of non-ASCII ``text``; the simpler pattern, where it gives the same, is faster."""
    return (_TOKEN if _UNSPACED_CHAR.search(text) else _WORD_TOKEN).findall(text)


def count_words(text: str) -> float:
    """How many words ``text`` holds, for length limits: its whitespace-separated words, where a
    character of a script written without spaces counts as half a word (a Chinese word is one
    to two characters).

    >>> count_words("Talks end in Geneva")
    4
    >>> count_words("会谈在日内瓦结束了 today")
    5.5
    """
    if text.isascii():
        return len(text.split())
    spaced, unspaced = _UNSPACED_CHAR.subn(" ", text)
    return len(spaced.split()) + unspaced / 2 if unspaced else len(text.split())


# Byte map for ASCII text: letters lower-cased, digits, "_", apostrophes and line breaks kept,
# every other byte a space. Token characters are exactly what ``\w`` matches in ASCII.
_TOKEN_BYTES = bytes(
    (code + 32 if 65 <= code <= 90 else code)
    if chr(code).isascii() and (chr(code).isalnum() or chr(code) in "_'\n")
    else 32
    for code in range(256)
)


def ascii_token_lines(text: str) -> list[bytes]:
    """For ASCII ``text``: per line, its :func:`tokenize` tokens joined by single spaces (as
    ASCII bytes, empty for a line without tokens). Same result as tokenising line by line,
    found with a few whole-text byte operations instead of a pattern match per token.

    >>> ascii_token_lines("It's 'THE' end--\\n\\nok_1")
    [b"it's the end", b'', b'ok_1']
    """
    return [b" ".join(line.split()) for line in _ascii_tokens(text).split(b"\n")]


def _ascii_tokens(text: str) -> bytes:
    """ASCII ``text`` with its token characters lower-cased, line breaks kept, and every
    other character, and every apostrophe outside a token, made a space."""
    data = text.encode("ascii").translate(_TOKEN_BYTES)
    if b"'" in data:
        # An apostrophe belongs to a token only between two token characters. In a run of
        # apostrophes each has an apostrophe neighbour; an odd run leaves one beside a space.
        # Then no two are adjacent, and blanking those beside a space (or a line break, given
        # spaces here) cannot leave another beside one.
        data = b" " + data.replace(b"''", b"  ").replace(b"\n", b" \n ") + b" "
        data = data.replace(b" '", b"  ").replace(b"' ", b"  ")
    return data


def normalize_for_hash(text: str) -> str:
    """The text reduced to what identifies its content: NFKC, case-folded word tokens joined
    by single spaces. Whitespace, punctuation and letter case do not change it.

    >>> normalize_for_hash("Hello,  WORLD!\\n") == normalize_for_hash("hello world")
    True
    """
    if text.isascii():  # NFKC and case folding of ASCII are plain lower-casing
        return b" ".join(filter(None, ascii_token_lines(text))).decode("ascii")
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        text = _replace_all(text, _QUOTE_PAIRS)
    return " ".join(_tokens(text))


# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "pres",
        "supt",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "no",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "approx",
        "est",
        "fig",
        "al",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)
# A full stop, question or exclamation mark before a space and a capital or a digit; or an
# ideographic full stop or full-width mark, which needs neither (Chinese and Japanese).
_SENTENCE_END = re.compile(r"""[.!?…]+["')\]]*(?=\s+["'(\[]?[A-Z0-9])|[。！？]+[」』"')\]）]*""")


def _is_abbreviation(text: str, end: int) -> bool:
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start:end].rstrip(".").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _iter_sentence_spans(paragraph: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        end = match.end()
        if paragraph[match.start()] == "." and _is_abbreviation(paragraph, match.start()):
            continue
        yield start, end
        start = end
    if start < len(paragraph):
        yield start, len(paragraph)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; line breaks always end a sentence.

    A rule-based splitter: a full stop, question or exclamation mark (with any closing quote
    or bracket) followed by a space and a capital letter or digit ends a sentence, unless the
    word before it is a known abbreviation or an initial; so does an ideographic full stop or
    a full-width question or exclamation mark.

    >>> split_sentences("Mr. Smith went to Washington. He met Dr. Jones!\\nNew line")
    ['Mr. Smith went to Washington.', 'He met Dr. Jones!', 'New line']
    >>> split_sentences("会谈结束了。双方返回首都！")
    ['会谈结束了。', '双方返回首都！']
    """
    return first_sentences(text, len(text))  # every sentence holds at least one character


def first_sentences(text: str, k: int) -> list[str]:
    """``split_sentences(text)[:k]`` for ``k >= 0``, splitting only as much of the text as
    holds them (a sentence never runs across a line break).

    >>> first_sentences("One. Two.\\nThree.", 2)
    ['One.', 'Two.']
    """
    sentences: list[str] = []
    start = 0
    while len(sentences) < k and start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        paragraph = text[start:end].strip()
        start = end + 1
        for first, last in _iter_sentence_spans(paragraph):
            sentence = paragraph[first:last].strip()
            if sentence:
                sentences.append(sentence)
                if len(sentences) == k:
                    break
    return sentences
