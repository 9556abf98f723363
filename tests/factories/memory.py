"""factory_boy factories for the memory app's rows."""

import factory
from factory.django import DjangoModelFactory

from memory.models import MemoryEntry, MemoryKind


class MemoryEntryFactory(DjangoModelFactory):
    """One memory entry (a reflection unless `kind` says otherwise), built directly: no cap,
    no kind check. Use `memory.services` when the service's rules are what is tested."""

    class Meta:
        model = MemoryEntry

    kind = MemoryKind.REFLECTION
    content = factory.Sequence(lambda n: f"memory {n}")
    meta = factory.LazyFunction(dict)
