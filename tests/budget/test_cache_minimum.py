"""The minimum cacheable prefix per model: one table, matched by the longest id prefix."""

import pytest

from budget.usage import CACHE_MIN_TOKENS_BY_MODEL, CACHE_MIN_TOKENS_UNKNOWN, cache_min_tokens


@pytest.mark.parametrize(
    ("model", "minimum"),
    [
        ("claude-sonnet-5-5", 1_024),
        ("claude-sonnet-4-5-20250929", 1_024),
        ("claude-sonnet-4-20250514", 1_024),
        ("claude-sonnet-4-6", 2_048),
        ("claude-opus-4-1-20250805", 1_024),
        ("claude-opus-4-6", 4_096),
        ("claude-opus-5", 512),
        ("claude-haiku-4-5-20251001", 4_096),
        ("claude-3-5-haiku-20241022", 2_048),
        ("claude-3-haiku-20240307", 2_048),
        ("Claude-3-7-Sonnet-20250219", 1_024),
    ],
)
def test_a_model_takes_its_familys_minimum(model, minimum):
    assert cache_min_tokens(model=model) == minimum


@pytest.mark.parametrize("model", ["", "gpt-4o", "claude-sonnet-50", "claude-next", "claude-opus-4x"])
def test_an_unknown_model_takes_the_largest_minimum(model):
    assert cache_min_tokens(model=model) == CACHE_MIN_TOKENS_UNKNOWN == max(CACHE_MIN_TOKENS_BY_MODEL.values())
