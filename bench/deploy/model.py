"""The fake model: a loopback Anthropic API that answers every decision call."""

import threading
import time
import uuid

from tests.factories import decision_text
from tests.fakes.anthropic_api import message_reply
from tests.fakes.http import FakeServer


class Model(FakeServer):
    """Answers every decision call with a valid decision. Each cluster has its own base URL
    path (/A, /B), so a request says which cluster made it. `approval_next`: the next call
    gets a low-certainty decision (an approval); `hold_next`: the next call is held (the
    cycle in flight when a cluster is killed)."""

    def __init__(self) -> None:
        super().__init__(default=self._answer)
        self.calls: list[tuple[float, str]] = []  # (monotonic, cluster)
        self.approval_next = True
        self.hold_next = False
        self.held: threading.Event = threading.Event()
        self.held_by: str | None = None
        self.notes: list[str] = []
        self.approved_note = f"deploy-run approved note {uuid.uuid4().hex[:8]}"
        self._n = 0
        self._mlock = threading.Lock()

    def _answer(self, recorded) -> object:
        cluster = recorded.path.strip("/").split("/")[0]
        with self._mlock:
            self._n += 1
            self.calls.append((time.monotonic(), cluster))
            if self.approval_next:
                self.approval_next = False
                text = decision_text(action="communicate", certainty=0.5, significance=0.3,
                                     recipient="master", message=self.approved_note, priority="medium")
                return message_reply(text, input_tokens=1500, output_tokens=80)
            if self.hold_next:
                self.hold_next = False
                self.held_by = cluster
                self.held.set()
                return message_reply(decision_text(), delay=60)  # the kill comes first
            note = f"deploy-run note {self._n} via {cluster}"
            self.notes.append(note)
        text = decision_text(action="communicate", certainty=0.9, significance=0.3,
                             recipient="master", message=note, priority="medium")
        return message_reply(text, input_tokens=1500, output_tokens=80)
