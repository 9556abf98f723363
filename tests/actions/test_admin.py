import pytest

from actions.models import Skill, Task
from tests.actions.factories import make_task

pytestmark = pytest.mark.django_db


def test_the_task_admin_lists_filters_and_searches(admin_client):
    make_task(title="Needle in the haystack")
    make_task(title="Something else")
    page = admin_client.get("/admin/actions/task/", {"q": "needle", "status__exact": "pending"})
    assert page.status_code == 200
    assert b"Needle in the haystack" in page.content and b"Something else" not in page.content


def test_a_task_added_in_the_admin_is_marked_as_from_the_admin(admin_client):
    response = admin_client.post(
        "/admin/actions/task/add/", {"title": "From the admin", "description": "", "priority": 2, "status": "pending",
                                     "result": "", "error": ""},
    )
    assert response.status_code == 302, response.content
    assert Task.objects.get().source == "admin"


def test_the_skill_admin_refuses_a_duplicate_name_with_a_form_error(admin_client):
    Skill.objects.create(name="Chess")
    response = admin_client.post(
        "/admin/actions/skill/add/", {"name": "chess", "description": "", "practice_count": 0, "notes": ""}
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    assert Skill.objects.count() == 1


def test_tasks_and_skills_have_full_crud_and_admin_tasks_come_from_the_admin(admin_client, world):
    response = admin_client.post(
        "/admin/actions/task/add/",
        {"title": "From the console", "description": "", "priority": 2, "status": "pending", "result": "", "error": ""},
    )
    assert response.status_code == 302
    assert Task.objects.get(title="From the console").source == "admin"
    task = world["task"]
    admin_client.post(f"/admin/actions/task/{task.pk}/delete/", {"post": "yes"})
    assert not Task.objects.filter(pk=task.pk).exists()
    assert admin_client.post("/admin/actions/skill/add/", {"name": "Chess", "description": "", "practice_count": 0,
                                                           "notes": ""}).status_code == 302
    assert Skill.objects.filter(name="Chess").exists()
