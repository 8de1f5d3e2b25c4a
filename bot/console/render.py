"""Pages from Jinja2 templates (aiohttp-jinja2), autoescaped, translated by our gettext catalogs.

Templates say `{{ _("English text") }}`; the text is looked up in bot/i18n's catalogs in the
language of the request (Vietnamese unless the English switch was used), so the console and the
chat share one set of translations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console.request_keys import CSRF, STAFF
from bot.i18n import DEFAULT_LOCALE, LANGUAGE_NAMES, SUPPORTED, _, use_locale
from bot.web.headers import page_headers

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "console_lang"
# No script at all; the one style sheet is ours. Forms post only to us.
HEADERS = page_headers(style_src="'self'") | {"Cache-Control": "no-store"}
# The inbox's pages add their one script of ours (live updates); they work without it too.
SCRIPT_HEADERS = page_headers(style_src="'self'", script_src="'self'", connect_src="'self'") | {
    "Cache-Control": "no-store"
}


def setup(app: web.Application) -> None:
    """Give the console's application its template environment."""
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        default_helpers=False,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_, ngettext=_ngettext, newstyle=True
    )


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _(singular) if count == 1 else _(plural)


def locale_of(request: web.Request) -> str:
    """The page's language: `?lang=`, else the switch's cookie, else Vietnamese."""
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in SUPPORTED else DEFAULT_LOCALE


def page(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    script: bool = False,
) -> web.Response:
    """Render `template` in the request's language, with the console's headers.

    `script`: the page loads a script of ours (the policy allows our own scripts only).
    """
    locale = locale_of(request)
    other = "en" if locale == "vi" else "vi"
    values = {
        "lang": locale,
        "switch_href": f"{request.path}?lang={other}",
        "switch_label": LANGUAGE_NAMES[other],
        "staff": request.get(STAFF),
        "csrf": request.get(CSRF, ""),
        **context,
    }
    with use_locale(locale):
        response = aiohttp_jinja2.render_template(template, request, values, status=status)
    response.headers.update(SCRIPT_HEADERS if script else HEADERS)
    if request.query.get("lang") in SUPPORTED:
        response.set_cookie(
            LANG_COOKIE, locale, samesite="Strict", httponly=True, max_age=365 * 24 * 3600
        )
    return response
