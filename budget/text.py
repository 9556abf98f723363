"""Bounds on stored text: whatever a model or a peer sends, a row and the pages that
show it stay small."""

STORED_TEXT_MAX_CHARS = 200_000


def text_clip(text: str, *, limit: int = STORED_TEXT_MAX_CHARS) -> str:
    """`text` whole when it fits, else its head and a visible marker saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = f"\n…[truncated: {len(text) - limit:,} more characters not stored]"
    return text[: max(0, limit - len(marker))] + marker
