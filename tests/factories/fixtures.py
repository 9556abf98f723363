"""One way to offer a factory as a pytest fixture in an app's conftest.py."""

import pytest


def factory_fixture(factory, *, name: str):
    """A fixture `name` that enables the database and returns `factory`:
    `task = task_factory(status=...)` in a test that asks for `task_factory`."""

    @pytest.fixture(name=name)
    def _fixture(db):
        return factory

    _fixture.__doc__ = f"`{name}(**fields)` builds a {factory._meta.model.__name__} row ({factory.__module__})."
    return _fixture
