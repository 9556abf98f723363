"""Full-text search over memory, for the Master (admin, API, Telegram) and the prompt.

PostgreSQL: the content's tsvector (config 'english': stemmed, stop words dropped) matched
by plainto_tsquery (every word must match), ranked by ts_rank then recency; the GIN index
`memory_content_fts` (migration 0004) is built on exactly `SEARCH_VECTOR_SQL`, so the
filter reads the index. Elsewhere (SQLite): every word must occur, case-insensitively;
ranked by the number of occurrences, then recency. Either way one bounded SELECT."""

import re

from django.db import connection
from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Cast, Length, Lower, Replace

from .models import MemoryEntry

SEARCH_CONFIG = "english"
SEARCH_VECTOR_SQL = "to_tsvector('english'::regconfig, COALESCE(content, ''))"
MAX_WORDS = 12
MAX_WORD_CHARS = 40
SEARCH_LIMIT_MAX = 100
_WORD = re.compile(r"\w+", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The query's words, lower-cased, de-duplicated, in order; bounded in count and size."""
    words: list[str] = []
    for word in _WORD.findall((query or "")[:2_000].lower()):
        word = word[:MAX_WORD_CHARS]
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def memory_search_queryset(*, query: str, include_archived: bool = False) -> QuerySet:
    """The entries matching every word of `query`, best first (a lazy queryset the caller
    may filter and page); none for a query without words."""
    qs = MemoryEntry.objects.all()
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return memory_search_filter(qs, query=query)


def memory_search_filter(qs: QuerySet, *, query: str) -> QuerySet:
    """`qs` (entries) narrowed to those matching every word of `query`, best first."""
    words = search_words(query)
    if not words:
        return qs.none()
    if connection.vendor == "postgresql":
        return _postgres(qs, words)
    return _fallback(qs, words)


def memory_search(*, query: str, limit: int = 20, include_archived: bool = False) -> list[MemoryEntry]:
    """At most `limit` (1..100) entries matching every word of `query`, best first."""
    limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
    return list(memory_search_queryset(query=query, include_archived=include_archived)[:limit])


def _postgres(qs: QuerySet, words: list[str]) -> QuerySet:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    vector = SearchVector("content", config=SEARCH_CONFIG)
    terms = SearchQuery(" ".join(words), config=SEARCH_CONFIG, search_type="plain")
    return (
        qs.annotate(search_vector=vector, rank=SearchRank(vector, terms))
        .filter(search_vector=terms)
        .order_by("-rank", "-created_at", "-id")
    )


def _fallback(qs: QuerySet, words: list[str]) -> QuerySet:
    condition = Q()
    for word in words:
        condition &= Q(content__icontains=word)
    lowered = Lower("content")
    # Occurrences of each word: (len(text) - len(text without the word)) / len(word).
    matches = sum(
        (Length(lowered) - Length(Replace(lowered, Value(word), Value("")))) / Value(len(word)) for word in words
    )
    return (
        qs.filter(condition)
        .annotate(rank=Cast(matches, IntegerField()))
        .order_by(F("rank").desc(), "-created_at", "-id")
    )
