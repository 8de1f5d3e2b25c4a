"""The security headers of our pages (`/chat`, `/verify`) and of everything else we serve.

A page may load only what its policy lists (no inline script on any page), may not be framed,
has no `<base>` and posts its forms only to us; no response is sniffed into another type, and
no address of ours is sent on as a referrer.
"""

from __future__ import annotations

from aiohttp import web

# What every page allows, before a page's own additions.
_POLICY = {
    "default-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def page_headers(**sources: str) -> dict[str, str]:
    """The headers of an HTML page whose policy adds `sources` (`script_src="'self'"`...)."""
    policy = _POLICY | {name.replace("_", "-"): value for name, value in sources.items()}
    return {
        "Content-Security-Policy": "; ".join(f"{name} {value}" for name, value in policy.items()),
        **_ALWAYS,
    }


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Give every response (JSON, pictures, scripts) the headers no page may be without."""
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
