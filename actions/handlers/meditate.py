"""meditate: reflect without blocking a worker; the pause is the pacing's job."""

from memory.models import MemoryKind
from memory.services import memory_record

from ..registry import ActionContext, ActionResult, Effects, register
from ..schemas import MeditateDetails


@register("meditate")
def meditate(details: MeditateDetails, context: ActionContext) -> ActionResult:
    topic = details.reflection_topic or "stillness"
    entry = memory_record(
        kind=MemoryKind.REFLECTION,
        content=f"Meditated on {topic} for {details.duration} s.",
        meta={"duration": details.duration, "topic": topic},
        cycle_id=context.cycle_id,
    )
    return ActionResult(
        status="ok",
        data={"duration": details.duration, "reflection_topic": topic, "memory_id": entry.pk,
              "summary": f"reflected on {topic}"},
        effects=Effects(min_next_interval_seconds=details.duration),
    )
