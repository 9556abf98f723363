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


# The shortest prefix the API caches, by model (Anthropic's prompt-caching docs, "Cache
# limitations", as of 2026-11): a shorter prefix marked with cache_control is silently sent
# uncached. Matched by the longest id prefix, so "claude-sonnet-5-5" takes "claude-sonnet-5"
# and a dated id ("claude-3-5-haiku-20241022") its family. Sources disagree on Sonnet 4.6
# (1,024 or 2,048): the larger is kept. An unknown model gets the largest minimum.
CACHE_MIN_TOKENS_BY_MODEL: dict[str, int] = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-mythos-5": 512,
    "claude-sonnet-5": 1_024,
    "claude-opus-4-8": 1_024,
    "claude-opus-4-7": 2_048,
    "claude-opus-4-6": 4_096,
    "claude-opus-4-5": 4_096,
    "claude-opus-4-1": 1_024,
    "claude-opus-4": 1_024,
    "claude-sonnet-4-6": 2_048,
    "claude-sonnet-4-5": 1_024,
    "claude-sonnet-4": 1_024,
    "claude-haiku-4-5": 4_096,
    "claude-3-7-sonnet": 1_024,
    "claude-3-5-sonnet": 1_024,
    "claude-3-opus": 1_024,
    "claude-3-5-haiku": 2_048,
    "claude-3-haiku": 2_048,
}
CACHE_MIN_TOKENS_UNKNOWN = max(CACHE_MIN_TOKENS_BY_MODEL.values())


def cache_min_tokens(*, model: str) -> int:
    """The minimum cacheable prefix of `model`, in tokens (the largest one when unknown)."""
    name = (model or "").strip().lower()
    matches = [key for key in CACHE_MIN_TOKENS_BY_MODEL if name == key or name.startswith(key + "-")]
    if not matches:
        return CACHE_MIN_TOKENS_UNKNOWN
    return CACHE_MIN_TOKENS_BY_MODEL[max(matches, key=len)]
