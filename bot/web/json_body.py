"""Request bodies read as JSON within bounds, so no body's shape can make a 500.

Python's parser takes 10,000 nested brackets to a RecursionError and a 5,000-digit number to a
ValueError, and it accepts text no database stores (a NUL, half of a surrogate pair). Every JSON
endpoint (web chat, staff API, Telegram and Zalo webhooks) reads its body here instead and
answers `BadJson` with its own 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

MAX_BYTES = 256 * 1024  # as the web application's own limit (bot.web.server.MAX_BODY)
MAX_DEPTH = 32  # objects and arrays inside each other; our bodies use 4 at most
MAX_INT_DIGITS = 20  # a Zalo user id has 19; nothing we read is longer
MAX_FLOAT_LENGTH = 32
# In valid JSON a backslash only starts an escape: after an even run of them, `\u0000` is a NUL
# and `\uD800`-`\uDFFF` half of a surrogate pair (alone if it stays so once parsed).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")
_EMPTY = re.compile(rb"\[\]|\{\}")


class BadJson(ValueError):
    """The body is not JSON within the bounds; the message says which (for the client)."""


async def read_json(request: web.Request, *, max_bytes: int = MAX_BYTES) -> Any:
    """The request's body parsed by `loads`.

    Raises:
        BadJson: as `loads`.
        web.HTTPRequestEntityTooLarge: a body over the application's own limit.
    """
    return loads(await request.read(), max_bytes=max_bytes)


def loads(raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse UTF-8 JSON text of at most `max_bytes`, nested at most `max_depth` deep.

    Integers may have up to `MAX_INT_DIGITS` digits, other numbers up to `MAX_FLOAT_LENGTH`
    characters and must be finite; `NaN` and `Infinity` are refused, and so are strings with a
    NUL or half of a surrogate pair (no database stores them).

    Raises:
        BadJson: the body is not such JSON.
    """
    if len(raw) > max_bytes:
        raise BadJson(f"the body is over {max_bytes} bytes")
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"nested deeper than {max_depth} levels") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise BadJson("not JSON") from None
    if raw.count(b"[") + raw.count(b"{") > max_depth and _depth_over(raw, max_depth):
        raise BadJson(f"nested deeper than {max_depth} levels")
    if _NUL_ESCAPE.search(raw) or (
        _SURROGATE_ESCAPE.search(raw) and _SURROGATE.search(json.dumps(value, ensure_ascii=False))
    ):
        raise BadJson("a string with a NUL or half of a surrogate pair")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadJson(f"an integer longer than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    number = float(text) if len(text) <= MAX_FLOAT_LENGTH else math.inf
    if not math.isfinite(number):
        raise BadJson(f"a number longer than {MAX_FLOAT_LENGTH} characters or out of range")
    return number


def _constant(text: str) -> Any:
    raise BadJson(f"{text} is not a JSON number")


def _depth_over(raw: bytes, max_depth: int) -> bool:
    """Whether valid JSON nests deeper than `max_depth`, without walking it in Python.

    With the strings out, what is left of the brackets loses one level of nesting each time
    the empty pairs are taken out.
    """
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    for _ in range(max_depth):
        if not brackets:
            return False
        brackets = _EMPTY.sub(b"", brackets)
    return bool(brackets)
