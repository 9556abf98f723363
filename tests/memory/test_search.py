"""memory_search: every word must match; best first; archived entries only when asked.
The same behaviour on SQLite (word matching) and PostgreSQL (full-text, GIN index)."""

import pytest
from django.db import connection

from memory.models import MemoryEntry
from memory.search import memory_search, memory_search_queryset, search_words
from memory.shaping import memory_archive

pytestmark = pytest.mark.django_db


def _contents(entries):
    return [e.content for e in entries]


def test_every_word_must_match_case_insensitively(memory_entry_factory, minutes):
    with minutes(1):
        memory_entry_factory(content="The Master prefers green tea")
    with minutes(2):
        memory_entry_factory(content="Green is the colour of the garden")
    with minutes(3):
        memory_entry_factory(content="TEA ceremony notes, green leaves")
    assert _contents(memory_search(query="green TEA", limit=10)) == [
        "TEA ceremony notes, green leaves", "The Master prefers green tea",
    ] or connection.vendor == "postgresql"
    assert set(_contents(memory_search(query="green tea", limit=10))) == {
        "The Master prefers green tea", "TEA ceremony notes, green leaves",
    }
    assert memory_search(query="coffee", limit=10) == []


def test_more_matches_rank_first_then_the_newest(memory_entry_factory, minutes):
    with minutes(1):
        memory_entry_factory(content="garden garden garden plan")
    with minutes(2):
        memory_entry_factory(content="garden plan")
    with minutes(3):
        memory_entry_factory(content="plan for the garden, again")
    found = _contents(memory_search(query="garden", limit=10))
    assert found[0] == "garden garden garden plan"
    assert found[1:] == ["plan for the garden, again", "garden plan"] or connection.vendor == "postgresql"


def test_archived_entries_only_when_asked(memory_entry_factory):
    entry = memory_entry_factory(content="an old lesson about kites")
    memory_archive(entry_id=entry.pk, by="m", via="api")
    assert memory_search(query="kites", limit=5) == []
    assert memory_search(query="kites", limit=5, include_archived=True) == [entry]


def test_the_limit_is_bounded(memory_entry_factory):
    MemoryEntry.objects.bulk_create(MemoryEntry(kind="reflection", content=f"note {i} kites") for i in range(130))
    assert len(memory_search(query="kites", limit=3)) == 3
    assert len(memory_search(query="kites", limit=0)) == 1
    assert len(memory_search(query="kites", limit=10_000)) == 100


@pytest.mark.parametrize("query", ["", "   ", "!!! ???", None])
def test_a_query_without_words_finds_nothing(memory_entry_factory, query):
    memory_entry_factory(content="anything")
    assert memory_search(query=query, limit=5) == []
    assert not memory_search_queryset(query=query).exists()


def test_quotes_and_operators_are_plain_words(memory_entry_factory):
    memory_entry_factory(content="it's a cat & dog | story")
    assert _contents(memory_search(query="cat & (dog | ' story", limit=5)) == ["it's a cat & dog | story"]


def test_words_are_bounded_and_deduplicated():
    assert search_words("Tea tea TEA green") == ["tea", "green"]
    assert len(search_words(" ".join(f"w{i}" for i in range(50)))) == 12
    assert search_words("x" * 100) == ["x" * 40]


@pytest.mark.postgres
def test_postgres_stems_words(memory_entry_factory):
    memory_entry_factory(content="The agent was gardening all morning")
    assert len(memory_search(query="gardens", limit=5)) == 1


@pytest.mark.postgres
def test_postgres_search_reads_the_gin_index(memory_entry_factory):
    # Many live entries, few about kites, and the statistics read: the word is what narrows it
    # (the live entries' partial index would not).
    MemoryEntry.objects.bulk_create(
        MemoryEntry(kind="reflection", content=f"entry {i} about " + ("kites" if i % 400 == 0 else "tea"))
        for i in range(2000)
    )
    qs = memory_search_queryset(query="kites")[:20]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_memoryentry")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "memory_content_fts" in plan, plan


@pytest.mark.postgres
def test_postgres_a_query_of_stop_words_only_finds_nothing(memory_entry_factory):
    memory_entry_factory(content="the and of")
    assert memory_search(query="the of", limit=5) == []
