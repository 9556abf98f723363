"""The memory admin: the Master adds guidance or a focus (both reach the next prompt), may
withdraw guidance, and sees the agent's own memories read-only."""

import re

import pytest

from agentsite.core.clock import utc_now
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind, MemoryRevision
from memory.services import memory_record

pytestmark = pytest.mark.django_db

# The read-only revisions inline's management form, as the browser sends it.
INLINE = {"revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"}


def test_memory_add_offers_only_guidance_and_focus(admin_client):
    html = admin_client.get("/admin/memory/memoryentry/add/").content.decode()
    options = re.findall(r'<option value="([^"]*)"', html)
    assert options == ["guidance", "focus"]
    response = admin_client.post("/admin/memory/memoryentry/add/", {"kind": "reflection", "content": "sneaky"})
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not MemoryEntry.objects.exists()


def test_guidance_added_in_the_admin_reaches_the_next_prompt(admin_client):
    response = admin_client.post("/admin/memory/memoryentry/add/", {"kind": "guidance", "content": " Be brief. "})
    assert response.status_code == 302
    entry = MemoryEntry.objects.get()
    assert (entry.kind, entry.content, entry.meta) == ("guidance", "Be brief.", {"source": "admin", "by": "admin"})
    assert "Be brief." in prompt_context_gather().answers


def test_a_focus_added_in_the_admin_becomes_the_focus(admin_client):
    admin_client.post("/admin/memory/memoryentry/add/", {"kind": "focus", "content": "Learn Rust"})
    assert prompt_context_gather().focus == "Learn Rust"
    assert MemoryEntry.objects.get().kind == MemoryKind.FOCUS


def test_memory_search_date_and_cycle_link(admin_client, world):
    memory_record(kind=MemoryKind.WORKING, content="Something unrelated")
    html = admin_client.get("/admin/memory/memoryentry/", {"q": "patience"}).content.decode()
    assert "Meditated on patience." in html and "Something unrelated" not in html
    assert f'href="/admin/decisions/cycle/{world["cycle"].pk}/change/"' in html
    today = utc_now().date()
    dated = admin_client.get(
        "/admin/memory/memoryentry/",
        {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day},
    )
    assert dated.status_code == 200 and b"Something unrelated" in dated.content


def test_the_master_edits_content_audited_and_may_withdraw_only_their_guidance(admin_client, world):
    reflection = world["memory"]
    before = reflection.content
    response = admin_client.post(f"/admin/memory/memoryentry/{reflection.pk}/change/",
                                 {"content": "  Meditated on kindness.  ", "kind": "focus", **INLINE})
    assert response.status_code == 302
    reflection.refresh_from_db()
    assert (reflection.kind, reflection.content) == ("reflection", "Meditated on kindness.")  # kind is read-only
    revision = MemoryRevision.objects.get()
    assert (revision.field, revision.before, revision.after, revision.by, revision.via) == (
        "content", before, "Meditated on kindness.", "admin", "admin")
    page = admin_client.get(f"/admin/memory/memoryentry/{reflection.pk}/change/").content.decode()
    assert "revisions (newest first)" in page.lower() and before in page
    assert admin_client.get(f"/admin/memory/memoryentry/{reflection.pk}/delete/").status_code == 403
    guidance = memory_record(kind=MemoryKind.GUIDANCE, content="Old advice")
    assert admin_client.post(f"/admin/memory/memoryentry/{guidance.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not MemoryEntry.objects.filter(pk=guidance.pk).exists()


@pytest.mark.parametrize(("content", "error"), [("   ", "Write something"), ("x" * 20_001, "at most 20000")])
def test_a_bad_edit_is_refused_on_the_form(admin_client, world, content, error):
    reflection = world["memory"]
    response = admin_client.post(f"/admin/memory/memoryentry/{reflection.pk}/change/", {"content": content, **INLINE})
    assert response.status_code == 200 and error in response.content.decode()
    assert not MemoryRevision.objects.exists()


def _act(client, action, *entries, **params):
    return client.post("/admin/memory/memoryentry/" + ("?archived=all" if params.get("all") else ""),
                       {"action": action, "_selected_action": [e.pk for e in entries]}, follow=True)


def test_pin_archive_and_restore_actions_go_through_the_services(admin_client):
    first, second = memory_record(kind="reflection", content="one"), memory_record(kind="reflection", content="two")
    response = _act(admin_client, "pin_selected", first, second)
    assert "Pin 2 entries." in response.content.decode()
    assert set(MemoryEntry.objects.values_list("pinned", flat=True)) == {True}
    _act(admin_client, "archive_selected", first)
    first.refresh_from_db()
    assert first.archived_at is not None and not first.pinned
    listed = admin_client.get("/admin/memory/memoryentry/").content.decode()
    assert ">two<" in listed and ">one<" not in listed  # archived entries are hidden by default
    assert ">one<" in admin_client.get("/admin/memory/memoryentry/?archived=yes").content.decode()
    failed = _act(admin_client, "pin_selected", first, all=True).content.decode()
    assert "restore it before pinning" in failed
    _act(admin_client, "restore_selected", first, all=True)
    first.refresh_from_db()
    assert first.archived_at is None
    assert set(MemoryRevision.objects.values_list("via", flat=True)) == {"admin"}
    assert "delete_selected" not in listed


def test_the_search_box_ranks_the_best_match_first(admin_client, memory_entry_factory, minutes):
    with minutes(1):
        memory_entry_factory(content="kites kites kites and string")
    with minutes(2):
        memory_entry_factory(content="string for kites")
    with minutes(3):
        memory_entry_factory(content="only string")
    html = admin_client.get("/admin/memory/memoryentry/", {"q": "kites string"}).content.decode()
    assert "only string" not in html
    assert html.index("kites kites kites") < html.index("string for kites")
