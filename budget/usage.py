"""Token usage as the API reports it: four categories, kept apart."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TokenUsage:
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0

    @property
    def total(self) -> int:
        # `input` excludes cache tokens (the SDK's Usage), so the sum counts each once.
        return self.input + self.output + self.cache_creation + self.cache_read

    @classmethod
    def from_sdk(cls, usage) -> "TokenUsage":
        return cls(
            input=usage.input_tokens or 0,
            output=usage.output_tokens or 0,
            cache_creation=getattr(usage, "cache_creation_input_tokens", None) or 0,
            cache_read=getattr(usage, "cache_read_input_tokens", None) or 0,
        )

    @classmethod
    def from_api(cls, usage: object) -> "TokenUsage | None":
        """The `usage` object of a Messages API reply as JSON, or None when it can't be
        trusted: missing, or without whole non-negative input and output counts."""
        if not isinstance(usage, dict):
            return None

        def count(key: str, *, required: bool) -> int | None:
            value = usage.get(key)
            if value is None and not required:
                return 0
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return None
            return value

        counts = (
            count("input_tokens", required=True),
            count("output_tokens", required=True),
            count("cache_creation_input_tokens", required=False),
            count("cache_read_input_tokens", required=False),
        )
        if None in counts:
            return None
        return cls(*counts)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def estimate_input_upper_bound(*, system: str, messages: list[dict]) -> int:
    """An upper bound on the input tokens of a request.

    A token always stands for at least one byte of UTF-8, so the byte count bounds
    the text; a fixed allowance per message covers the framing tokens.
    """
    size = len(system.encode("utf-8")) + 64
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(block.get("text", "")) for block in content)
        size += len(str(content).encode("utf-8")) + 16
    return size
