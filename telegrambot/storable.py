"""Text any database stores: the inbox's payloads and the chat's messages pass through here."""

import re

# PostgreSQL stores neither NUL in text nor "\u0000" in jsonb, and no database driver
# encodes a lone UTF-16 surrogate (which JSON's "\ud800" escape decodes to).
_NUL = "\x00"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_storable(text: str) -> str:
    """`text` without NUL characters, lone surrogates replaced by U+FFFD: storable in any database."""
    if _NUL in text:
        text = text.replace(_NUL, "")
    return _LONE_SURROGATE.sub("\ufffd", text)


def payload_storable(value):
    """A JSON value with every string (object keys included) made `text_storable`."""
    if isinstance(value, str):
        return text_storable(value)
    if isinstance(value, dict):
        return {payload_storable(k) if isinstance(k, str) else k: payload_storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [payload_storable(item) for item in value]
    return value
