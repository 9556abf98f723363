"""Splitting long texts into Telegram-sized messages.

Telegram refuses a message longer than 4096 characters, so a long text goes out as
several messages. `split_message` cuts it where a reader would: at the last paragraph
break ("\\n\\n") that fits, else the last line break ("\\n"), else the last space (" "),
else (one "word" longer than the limit) hard at the limit.

Exactly what is kept: the single separator occurrence a part was cut at (one "\\n\\n",
one "\\n" or one " ") is dropped, because it would only show up as blank space at the
edge of a message; nothing else is. A hard cut drops nothing. So

    "".join(part + sep for part, sep in split_message_with_separators(text)) == text

always holds, and every part has 1..limit characters. Lengths are Python `len()`
(code points), which is what Telegram's limit counts.
"""

TELEGRAM_TEXT_LIMIT = 4096

# Preferred cut points, best first.
SEPARATORS = ("\n\n", "\n", " ")


def split_message_with_separators(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[tuple[str, str]]:
    """`text` as (part, separator dropped after it) pairs; the separator is "" after a
    hard cut and after the final part (unless the text ended exactly at a cut).

    An empty text gives an empty list.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[tuple[str, str]] = []
    rest = text
    while len(rest) > limit:
        for sep in SEPARATORS:
            # The part before the separator must fit; the separator itself may run past
            # the limit since it is dropped. A cut at 0 would make an empty part.
            cut = rest.rfind(sep, 1, limit + len(sep))
            if cut > 0:
                pieces.append((rest[:cut], sep))
                rest = rest[cut + len(sep):]
                break
        else:
            pieces.append((rest[:limit], ""))
            rest = rest[limit:]
    if rest:
        pieces.append((rest, ""))
    return pieces


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """The parts of `text`, each at most `limit` characters (see the module docstring).

    An empty text gives an empty list. A part may consist of whitespace only when the
    text does (Telegram rejects such a message; the caller decides what to do).
    """
    return [part for part, _ in split_message_with_separators(text, limit)]
