"""Reading what was typed into the search box: words, `or`, `-word`, limits."""

from __future__ import annotations

import pytest

from advisory.records import search
from advisory.records.search import Terms, mark, parse, problem
from advisory.views.search import marked

S, E = search.START, search.STOP


def test_words_must_all_match():
    assert parse("Stock  COUNT") == Terms((("stock",), ("count",)))


def test_or_joins_the_words_either_side():
    assert parse("escrow or barter fees") == Terms((("escrow", "barter"), ("fees",)))
    assert parse("escrow OR barter OR swap") == Terms((("escrow", "barter", "swap"),))


def test_a_leading_or_and_a_trailing_or_are_words_of_no_meaning():
    assert parse("or escrow or") == Terms((("escrow",),))


def test_a_minus_leaves_a_word_out():
    assert parse("escrow -deposit") == Terms((("escrow",),), ("deposit",))


def test_punctuation_separates_words_and_quotes_are_not_phrases():
    assert parse('"stock count" follow-up') == Terms((("stock",), ("count",), ("follow",), ("up",)))
    assert parse("a:* & | ! (stock") == Terms((("a",), ("stock",)))


def test_letters_beyond_ascii_are_words():
    assert parse("Siân Howells") == Terms((("siân",), ("howells",)))


def test_at_most_a_dozen_words_are_used():
    assert len(parse(" ".join(f"w{n}" for n in range(30))).words) == search.MAX_TERMS


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", search.EMPTY),
        ("   ", search.EMPTY),
        ("?!", search.EMPTY),
        ("x" * 201, search.TOO_LONG),
        ("-stock", search.ONLY_EXCLUDED),
        ("stock", None),
        ("x" * 200, None),
        ("  " + "x" * 200 + "  ", None),  # white space around does not count
    ],
)
def test_problem(query, message):
    assert problem(query) == message


def test_control_characters_are_dropped():
    assert search.normalize("stock\x00count\x1b") == "stock count"


def test_the_tsquery_uses_prefixes_and_only_safe_characters():
    query = search.tsquery(parse("escrow or ba -deposit it's"))
    assert query.source_expressions[-1].value == "(escrow:* | ba) & (it) & (s) & !deposit"


def test_mark_highlights_the_start_of_matching_words():
    assert mark("Harbour harbours; the harb.", ["harb"]) == (
        f"{S}Harbour{E} {S}harbours{E}; the {S}harb{E}."
    )
    assert mark("Nothing here", ["harb"]) == "Nothing here"
    assert mark("", ["harb"]) == ""


def test_mark_removes_markers_typed_into_the_text():
    assert mark(f"x{S}y{E} harb", ["harb"]) == f"xy {S}harb{E}"


def test_marked_escapes_and_keeps_the_markup_balanced():
    assert marked(f"{S}<b>{E} & {E}{S}") == "<mark>&lt;b&gt;</mark> &amp; <mark></mark>"
    assert marked(f"{S}{S}open") == "<mark>open</mark>"
    assert marked("<script>") == "&lt;script&gt;"


def test_an_excerpt_starts_near_the_first_match():
    text = "lorem " * 100 + "walrus " + "ipsum " * 100
    excerpt = search.excerpt(text, ["walrus"])
    assert "walrus" in excerpt
    assert excerpt.startswith("… ") and excerpt.endswith(" …")
    assert len(excerpt) <= search.SNIPPET + 4
