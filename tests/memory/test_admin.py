"""The memory admin: the Master adds guidance or a focus (both reach the next prompt), may
withdraw guidance, and sees the agent's own memories read-only."""

import re

import pytest

from agentsite.core.clock import utc_now
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from memory.services import memory_record

pytestmark = pytest.mark.django_db


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


def test_the_agents_memories_are_read_only_but_the_master_may_withdraw_guidance(admin_client, world):
    reflection = world["memory"]
    assert admin_client.post(f"/admin/memory/memoryentry/{reflection.pk}/change/",
                             {"kind": "reflection", "content": "x"}).status_code == 403
    assert admin_client.get(f"/admin/memory/memoryentry/{reflection.pk}/delete/").status_code == 403
    guidance = memory_record(kind=MemoryKind.GUIDANCE, content="Old advice")
    assert admin_client.post(f"/admin/memory/memoryentry/{guidance.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not MemoryEntry.objects.filter(pk=guidance.pk).exists()
