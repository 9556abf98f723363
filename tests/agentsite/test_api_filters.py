"""The lists' filters (django-filter FilterSets): strict like every other input, and the
approvals' status filter follows the selector's effective-status rules."""

from datetime import timedelta

import pytest
import time_machine

from actions.services import task_create
from agentsite.core.clock import utc_now
from decisions.approvals import approval_request_decision
from tests.factories import decision

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/api/ledger/?scope=", "/api/cycles/?action=", "/api/approvals/?kind=", "/api/tasks/?priority=",
     "/api/memory/?search="],
)
def test_a_blank_filter_value_is_400(api, path):
    response = api.get(path)
    name = path.split("?")[1].rstrip("=")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.", "code": "invalid", "errors": {name: ["This field may not be blank."]},
    }


@pytest.mark.parametrize("path", ["/api/cycles/", "/api/approvals/", "/api/tasks/", "/api/memory/"])
def test_unknown_parameters_are_400_on_every_filtered_list(api, path):
    response = api.get(f"{path}?oops=1&page=1&format=json")
    assert response.status_code == 400 and response.json()["errors"] == {"oops": ["Unknown field."]}


@pytest.mark.parametrize("value", ["1.5", "0", "6", "x"])
def test_priority_takes_whole_numbers_in_range(api, value):
    response = api.get(f"/api/tasks/?priority={value}")
    assert response.status_code == 400 and "priority" in response.json()["errors"]


def test_status_and_kind_combine_with_the_selectors_expiry_rule(api):
    task_create(title="anything", source="cli")
    with time_machine.travel(utc_now() - timedelta(days=3), tick=False):
        stale = approval_request_decision(decision=decision("meditate"), cycle=None)
    fresh = approval_request_decision(decision=decision("meditate"), cycle=None)
    ids = lambda query: [a["id"] for a in api.get(f"/api/approvals/?{query}").json()["results"]]  # noqa: E731
    assert ids("status=pending&kind=decision") == [fresh.pk]
    assert ids("status=expired&kind=decision") == [stale.pk]
    assert ids("status=expired&kind=question") == []
    assert ids("kind=decision") == [fresh.pk, stale.pk]
