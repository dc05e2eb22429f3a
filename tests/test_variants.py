"""Synthetic syndicated copies (variants) and the exact copy finder (syndicated)."""

from __future__ import annotations

import difflib
import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.evaluation.syndicated import copy_groups, find_copies, jaccard, shingles, words
from dedup.evaluation.variants import (
    BOILERPLATE_FOOTERS,
    BOILERPLATE_HEADERS,
    TRANSFORMS,
    Variant,
    make_variants,
)

# Six unrelated stories with a title line, long enough for every change to show.
ARTICLES = [
    (
        "quake",
        (
            "Strong earthquake shakes island off southern coast\n"
            "A strong earthquake struck a small island off the southern coast on Sunday, destroying "
            "dozens of mud-brick homes and injuring at least forty people, officials said. The quake "
            "was felt across the gulf in neighbouring countries. Rescue teams handed out tents, "
            "blankets and water to villagers who spent the night outdoors. Power was restored to most "
            "villages by Monday morning. The governor said the damage was being assessed and that "
            "schools would stay closed for the rest of the week."
        ),
    ),
    (
        "rehab",
        (
            "Actress checks into rehab centre\n"
            "The actress has checked into a treatment centre in the desert, her representative told a "
            "celebrity magazine on Tuesday. She asked for privacy for herself and her family at this "
            "time. A friend said her decision was supported by those closest to her. The actress, who "
            "starred in a string of comedies, recently launched a fashion line. Her publicist would not "
            "say what she was being treated for or how long she would stay at the clinic."
        ),
    ),
    (
        "cable",
        (
            "Undersea cable cut disrupts internet traffic\n"
            "Internet and telephone traffic between Europe and Asia was hampered on Friday after three "
            "undersea data cables were cut in the Mediterranean, a telecommunications company said. "
            "Engineers believe a ship's anchor may have caused the damage. A repair vessel was on its "
            "way but would not reach the site until Monday. Several countries lost a large share of "
            "their voice capacity to Europe, and thousands of internet routes went offline for hours."
        ),
    ),
    (
        "coach",
        (
            "Basketball team fires head coach after losing run\n"
            "The basketball club fired its head coach on Saturday after a run of nine defeats in eleven "
            "games left the team near the bottom of the division. The general manager said the decision "
            "was difficult but necessary. An assistant will lead the team for the rest of the season. "
            "Players said they respected the coach and took responsibility for the poor results. The "
            "club will begin looking for a permanent replacement in the summer."
        ),
    ),
    (
        "patch",
        (
            "Software maker rushes out emergency browser patch\n"
            "The software maker released an emergency update for its web browser on Wednesday to fix a "
            "flaw that attackers were already exploiting to steal passwords. Security researchers had "
            "warned that booby-trapped websites could take over computers. The company urged users to "
            "install the update at once. It said the number of attacks was small but growing, and that "
            "customers with automatic updates turned on would be protected without doing anything."
        ),
    ),
    (
        "fire",
        (
            "Fire destroys historic dairy building\n"
            "A fire destroyed a historic dairy building in the town centre early on Tuesday. Nobody was "
            "injured, the fire chief said, but the wooden structure collapsed within an hour. Crews from "
            "three stations fought the blaze through the night. The building, one of the last left from "
            "the town's founding years, had been empty for a decade. Investigators called the cause "
            "suspicious and asked anyone who saw people near the site to come forward."
        ),
    ),
]
ORIGINALS = dict(ARTICLES)


def copies_of(variants: list[Variant]) -> list[Variant]:
    return [v for v in variants if v.id != v.group]


def only(transform: str, copies: int = 3, **kwargs: Any) -> list[Variant]:
    return copies_of(
        make_variants(ARTICLES, copies=copies, seed=7, p_transform=1.0, transforms=(transform,), **kwargs)
    )


def boilerplate_line_patterns(templates: tuple[str, ...]) -> list[re.Pattern[str]]:
    lines = {line for template in templates for line in template.split("\n")}
    return [re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(line)) + "$") for line in lines]


def is_boilerplate(block: str, templates: tuple[str, ...]) -> bool:
    patterns = boilerplate_line_patterns(templates)
    return all(any(p.match(line) for p in patterns) for line in block.strip("\n").split("\n"))


# --------------------------------------------------------------------------- make_variants


def test_same_input_and_seed_give_identical_output() -> None:
    assert make_variants(ARTICLES, copies=3, seed=11) == make_variants(ARTICLES, copies=3, seed=11)


def test_other_seed_gives_other_copies() -> None:
    first = [v.text for v in make_variants(ARTICLES, seed=1)]
    second = [v.text for v in make_variants(ARTICLES, seed=2)]
    assert first != second


def test_copies_of_an_article_do_not_depend_on_the_batch() -> None:
    alone = make_variants(ARTICLES[2:3], copies=2, seed=5)
    in_batch = [v for v in make_variants(ARTICLES, copies=2, seed=5) if v.group == "cable"]
    assert alone == in_batch


def test_originals_come_first_with_their_copies_in_one_group() -> None:
    variants = make_variants(ARTICLES, copies=3, seed=0)
    assert len(variants) == len(ARTICLES) * 4
    expected_ids = [
        i for article_id, _ in ARTICLES for i in (article_id, *(f"{article_id}~v{k}" for k in (1, 2, 3)))
    ]
    assert [v.id for v in variants] == expected_ids
    for v in variants:
        assert v.group == v.id.split("~")[0]
        if v.id == v.group:
            assert v.text == ORIGINALS[v.id]
            assert v.transforms == ()
        else:
            assert v.transforms
            assert set(v.transforms) <= set(TRANSFORMS)


def test_copies_always_differ_from_their_original() -> None:
    tiny = [("one", "Hello."), ("empty", ""), ("two", "Two words")]
    for articles in (ARTICLES, tiny):
        for seed in range(5):
            for v in copies_of(make_variants(articles, copies=4, seed=seed)):
                assert v.text != dict(articles)[v.group]


def test_every_transformation_occurs_over_a_planted_corpus() -> None:
    variants = copies_of(make_variants(ARTICLES, copies=4, seed=3))
    seen = {t for v in variants for t in v.transforms}
    assert seen == set(TRANSFORMS)
    assert any(len(v.transforms) >= 3 for v in variants)


def test_header_is_boilerplate_above_the_unchanged_article() -> None:
    for v in only("header"):
        original = ORIGINALS[v.group]
        assert v.text.endswith(original)
        assert is_boilerplate(v.text[: -len(original)], BOILERPLATE_HEADERS)


def test_footer_is_boilerplate_below_the_unchanged_article() -> None:
    for v in only("footer"):
        original = ORIGINALS[v.group]
        assert v.text.startswith(original)
        assert is_boilerplate(v.text[len(original) :], BOILERPLATE_FOOTERS)


def test_boilerplate_is_varied() -> None:
    lines = {line for template in BOILERPLATE_HEADERS + BOILERPLATE_FOOTERS for line in template.split("\n")}
    assert len(lines) >= 20
    assert any("\n" in template for template in BOILERPLATE_FOOTERS)
    footers = {v.text[len(ORIGINALS[v.group]) :] for v in only("footer", copies=6)}
    assert len(footers) >= 20


def test_edits_touch_a_few_percent_of_the_words() -> None:
    for v in only("edits", edit_rate=(0.04, 0.04)):
        before, after = ORIGINALS[v.group].split(), v.text.split()
        changes = [
            op for op in difflib.SequenceMatcher(None, before, after).get_opcodes() if op[0] != "equal"
        ]
        assert 1 <= len(changes) <= round(0.04 * len(before))
        assert abs(len(after) - len(before)) <= round(0.04 * len(before))


def test_truncation_keeps_70_to_90_percent_and_cuts_at_a_boundary() -> None:
    for v in only("truncate"):
        original = ORIGINALS[v.group]
        assert original.startswith(v.text)
        assert 0.7 * len(original) - 1 <= len(v.text) <= 0.9 * len(original)
        assert original[len(v.text)].isspace()
    assert any(v.text.endswith(".") for v in only("truncate"))


def test_case_changes_keep_the_letters() -> None:
    changed = only("case", copies=5)
    for v in changed:
        assert v.text.lower() == ORIGINALS[v.group].lower()
    assert any(v.text.split("\n")[0].isupper() for v in changed)  # an upper-cased title
    assert any(v.text.split("\n")[0] == ORIGINALS[v.group].split("\n")[0] for v in changed)


def test_whitespace_changes_keep_the_words() -> None:
    changed = only("whitespace", copies=5)
    for v in changed:
        assert v.text.split() == ORIGINALS[v.group].split()
    assert any(max(len(line) for line in v.text.split("\n")) <= 80 for v in changed)  # re-wrapped
    assert any("  " in v.text for v in changed)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"copies": -1}, "copies"),
        ({"edit_rate": (0.05, 0.01)}, "edit_rate"),
        ({"keep_fraction": (0.7,)}, "keep_fraction"),
        ({"p_transform": 1.5}, "p_transform"),
        ({"transforms": ("header", "shuffle")}, "shuffle"),
    ],
)
def test_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_variants(ARTICLES, **kwargs)  # type: ignore[arg-type]


def test_rejects_repeated_ids() -> None:
    with pytest.raises(ValueError, match="unique"):
        make_variants([("a", "x"), ("a", "y")])


# ----------------------------------------------------------------------------- find_copies


def test_words_drop_punctuation_and_case() -> None:
    assert words("The U.S. isn't ready -- yet!") == ["the", "u", "s", "isnt", "ready", "yet"]


def test_jaccard_hand_computed() -> None:
    # 2-grams: {ab, bc, cd, de} and {ab, bc, cd, dx}: 3 shared of 5.
    a, b = shingles("a b c d e", n=2), shingles("A b, c. d x", n=2)
    assert jaccard(a, b) == pytest.approx(3 / 5)
    assert find_copies([("x", "a b c d e"), ("y", "A b, c. d x")], n=2, threshold=0.6) == [("x", "y", 0.6)]
    assert find_copies([("x", "a b c d e"), ("y", "A b, c. d x")], n=2, threshold=0.61) == []


def test_finds_the_planted_copies_and_groups_them() -> None:
    variants = make_variants(
        ARTICLES, copies=2, seed=4, transforms=("header", "footer", "case", "whitespace")
    )
    pairs = find_copies([(v.id, v.text) for v in variants], threshold=0.5)
    assert pairs == sorted(pairs)
    assert all(a < b and 0.5 <= j <= 1.0 for a, b, j in pairs)
    groups = copy_groups(pairs, [v.id for v in variants])
    assert groups == {v.id: v.group for v in variants}


def test_unrelated_articles_are_not_copies() -> None:
    assert find_copies(ARTICLES, threshold=0.1) == []


def test_copy_groups_are_connected_components_named_by_smallest_id() -> None:
    pairs = [("b", "c", 0.9), ("c", "e", 0.7), ("d", "f", 0.8)]
    assert copy_groups(pairs, ["a", "b", "c", "d", "e", "f"]) == {
        "a": "a",
        "b": "b",
        "c": "b",
        "d": "d",
        "e": "b",
        "f": "d",
    }
    with pytest.raises(ValueError, match="'z'"):
        copy_groups([("a", "z", 1.0)], ["a"])


def test_find_copies_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="threshold"):
        find_copies(ARTICLES, threshold=0.0)
    with pytest.raises(ValueError, match="unique"):
        find_copies([("a", "x y"), ("a", "x y")])
    with pytest.raises(ValueError, match="n must be"):
        find_copies(ARTICLES, n=0)


texts = st.lists(st.sampled_from("abcdef"), min_size=0, max_size=14).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(texts, min_size=2, max_size=8), st.sampled_from([0.2, 0.3, 0.5, 0.75, 1.0]), st.integers(1, 3)
)
def test_prefix_filter_finds_exactly_what_all_pairs_find(corpus: list[str], threshold: float, n: int) -> None:
    articles = [(f"d{i}", text) for i, text in enumerate(corpus)]
    sets = {i: shingles(t, n) for i, t in articles}
    brute = sorted(
        (a, b, jaccard(sets[a], sets[b]))
        for a, b in itertools.combinations(sorted(sets), 2)
        if jaccard(sets[a], sets[b]) >= threshold
    )
    assert find_copies(articles, n=n, threshold=threshold) == brute
