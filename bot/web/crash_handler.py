"""The last resort for a request that fails unexpectedly: a plain JSON 500, logged bare.

aiohttp's own answer to an unexpected exception is a text page, with the traceback when the
event loop runs in debug mode, and its log line carries the exception's message, which may
quote what was posted. Here the answer is `{"error": "internal error"}` and the log says
which exception, on which route and where in our code, but not its message.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)
_FRAMES = 6


@web.middleware
async def last_resort(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the handler; answer an exception that is not an HTTP answer with a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as error:
        resource = request.match_info.route.resource
        log.error(
            "%s answering %s %s, at %s",
            type(error).__name__,
            request.method,
            resource.canonical if resource is not None else "?",
            _where(error),
        )
        return web.Response(
            status=500,
            text=json.dumps({"error": "internal error"}),
            content_type="application/json",
        )


def _where(error: BaseException) -> str:
    """The innermost frames of the exception, as `file:line function`: code, never data."""
    frames = traceback.extract_tb(error.__traceback__)[-_FRAMES:]
    return " < ".join(
        f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )
