"""split_message: parts that fit, cut where a reader would, nothing lost but the cut separator."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telegrambot.text import TELEGRAM_TEXT_LIMIT, split_message, split_message_with_separators


def reassemble(text: str, limit: int) -> str:
    return "".join(part + sep for part, sep in split_message_with_separators(text, limit))


def test_a_short_text_is_one_part_and_an_empty_text_none():
    assert split_message("hello") == ["hello"]
    assert split_message("x" * TELEGRAM_TEXT_LIMIT) == ["x" * TELEGRAM_TEXT_LIMIT]
    assert split_message("") == []


def test_paragraph_breaks_are_preferred_over_lines_and_spaces():
    text = "aaa bbb\nccc\n\nddd eee"
    assert split_message(text, limit=12) == ["aaa bbb\nccc", "ddd eee"]


def test_then_line_breaks_then_spaces():
    assert split_message("aaa bbb\nccc ddd", limit=10) == ["aaa bbb", "ccc ddd"]
    assert split_message("aaa bbb ccc ddd", limit=10) == ["aaa bbb", "ccc ddd"]


def test_the_last_boundary_that_fits_is_used():
    assert split_message("aa\n\nbb\n\ncc\n\ndd", limit=9) == ["aa\n\nbb", "cc\n\ndd"]


def test_a_word_longer_than_the_limit_is_cut_hard_without_losing_anything():
    word = "x" * 25
    assert split_message(word, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_message(f"hi {word} yo", limit=10) == ["hi", "x" * 10, "x" * 10, "xxxxx yo"]


def test_a_separator_just_past_the_limit_is_still_a_clean_cut():
    text = "a" * 10 + "\n\n" + "b" * 3
    assert split_message(text, limit=10) == ["a" * 10, "b" * 3]
    assert reassemble(text, 10) == text


def test_only_the_separator_cut_at_is_dropped():
    text = "para one\n\n\npara two"
    pieces = split_message_with_separators(text, limit=12)
    assert pieces == [("para one\n", "\n\n"), ("para two", "")]
    assert reassemble(text, 12) == text


def test_a_realistic_long_text_fits_telegram():
    paragraphs = [" ".join(f"word{i}-{j}" for j in range(150)) for i in range(12)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 10_000
    parts = split_message(text)
    assert len(parts) >= 3
    assert all(0 < len(part) <= TELEGRAM_TEXT_LIMIT for part in parts)
    assert "\n\n".join(parts) == text  # cut at paragraph breaks only


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        split_message("abc", limit=0)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab \n\u00e9\U0001f600"), max_size=200),
       limit=st.integers(min_value=1, max_value=30))
def test_parts_fit_are_never_empty_and_reassemble_exactly(text, limit):
    pieces = split_message_with_separators(text, limit)
    assert reassemble(text, limit) == text
    assert all(1 <= len(part) <= limit for part, _ in pieces)
    assert all(sep in ("\n\n", "\n", " ", "") for _, sep in pieces)
    assert split_message(text, limit) == [part for part, _ in pieces]
