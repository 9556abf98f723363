"""The benches' statement counter (bench/_common.SqlCount): what it reports is what the
issue-12 rows are judged on, so it must count kinds and durable commits right."""

import pytest
from django.db import transaction

from actions.models import Task, TaskSource
from bench._common import SqlCount, percentile

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, not the test's wrapping transaction


def _task(title: str) -> Task:
    return Task.objects.create(title=title, source=TaskSource.CLI)


def test_a_write_in_autocommit_is_one_durable_commit():
    with SqlCount() as count:
        _task("one")
        Task.objects.filter(title="one").count()
    assert count.kinds == {"INSERT": 1, "SELECT": 1}
    assert count.commits == 1


def test_an_atomic_block_is_one_commit_however_many_writes():
    with SqlCount() as count:
        with transaction.atomic():
            _task("a")
            _task("b")
            with transaction.atomic():  # a savepoint, not a commit
                Task.objects.filter(title="a").update(title="c")
    assert count.kinds["INSERT"] == 2 and count.kinds["UPDATE"] == 1
    assert count.kinds["COMMIT"] == 1 and count.kinds["SAVEPOINT"] == 1
    assert count.commits == 1
    assert count.statements[-1] == "COMMIT"


def test_nothing_is_counted_after_the_block():
    with SqlCount() as count:
        _task("inside")
    _task("outside")
    assert count.total == 1 and count.commits == 1


def test_percentile_is_nearest_rank():
    samples = list(range(1, 101))
    assert percentile(samples, 99) == 99
    assert percentile(samples, 50) == 50
    assert percentile([7.0], 99) == 7.0
