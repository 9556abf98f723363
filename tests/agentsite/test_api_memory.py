"""Memory over the API: full-text search (`q`), archived entries left out unless asked,
the detail with its revisions, and PATCH (edit, pin, archive; all or nothing)."""

import pytest

from memory.models import MemoryEntry, MemoryRevision
from memory.shaping import memory_archive
from tests.factories.memory import MemoryEntryFactory

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.content
    return [e["id"] for e in response.json()["results"]]


def test_q_finds_entries_with_every_word(api):
    tea = MemoryEntryFactory(content="The Master drinks green tea at four")
    MemoryEntryFactory(content="green garden")
    MemoryEntryFactory(content="tea towels")
    assert _ids(api.get("/api/memory/?q=green+tea")) == [tea.pk]
    assert _ids(api.get("/api/memory/?q=green+tea&kind=guidance")) == []


def test_archived_entries_are_left_out_unless_asked(api):
    kept, gone = MemoryEntryFactory(content="kites fly"), MemoryEntryFactory(content="kites fall")
    memory_archive(entry_id=gone.pk, by="m", via="api")
    assert _ids(api.get("/api/memory/")) == [kept.pk]
    assert _ids(api.get("/api/memory/?q=kites")) == [kept.pk]
    assert set(_ids(api.get("/api/memory/?q=kites&include_archived=true"))) == {kept.pk, gone.pk}
    assert _ids(api.get("/api/memory/?include_archived=false")) == [kept.pk]


@pytest.mark.parametrize("query", ["q=", "include_archived=maybe", "q=" + "x" * 201])
def test_bad_search_parameters_are_400(api, query):
    response = api.get(f"/api/memory/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_patch_edits_pins_and_the_detail_shows_the_revisions(api, staff_user):
    entry = MemoryEntryFactory(content="draft note")
    response = api.patch(f"/api/memory/{entry.pk}/", {"content": "final note", "pinned": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["content"], body["pinned"], body["archived_at"]) == ("final note", True, None)
    assert [(r["field"], r["before"], r["after"], r["via"], r["by"]) for r in body["revisions"]] == [
        ("pinned", "False", "True", "api", staff_user.username),
        ("content", "draft note", "final note", "api", staff_user.username),
    ]
    assert api.get(f"/api/memory/{entry.pk}/").json() == body


def test_patch_archives_and_restores(api):
    entry = MemoryEntryFactory()
    assert api.patch(f"/api/memory/{entry.pk}/", {"archived": True}, format="json").json()["archived_at"]
    assert api.get(f"/api/memory/{entry.pk}/").status_code == 200  # the detail shows archived entries
    assert api.patch(f"/api/memory/{entry.pk}/", {"archived": False}, format="json").json()["archived_at"] is None


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"content": ""}, 400, "invalid_content"),
    ({"content": "   "}, 400, "invalid_content"),
    ({"content": "x" * 20_001}, 400, "invalid"),
    ({"content": 12}, 400, "invalid"),
    ({"pinned": "yes"}, 400, "invalid"),
    ({"archived": 1}, 400, "invalid"),
    ({"colour": "red"}, 400, "invalid"),
    ({"pinned": True, "archived": True}, 409, "conflict"),
])
def test_bad_patches_change_nothing(api, body, status, code):
    entry = MemoryEntryFactory(content="kept")
    response = api.patch(f"/api/memory/{entry.pk}/", body, format="json")
    assert response.status_code == status and response.json()["code"] == code, response.content
    entry.refresh_from_db()
    assert (entry.content, entry.pinned, entry.archived_at) == ("kept", False, None)
    assert not MemoryRevision.objects.exists()


def test_a_missing_entry_is_404(api):
    assert api.get("/api/memory/999/").status_code == 404
    response = api.patch("/api/memory/999/", {"pinned": True}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not MemoryEntry.objects.exists()


def test_only_staff_may_shape_memory(non_staff):
    entry = MemoryEntryFactory()
    assert non_staff.patch(f"/api/memory/{entry.pk}/", {"pinned": True}, format="json").status_code == 403
    assert not MemoryEntry.objects.get().pinned
