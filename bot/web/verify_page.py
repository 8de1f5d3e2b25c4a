"""The public certificate check, `/verify`: paste a certificate's text or send a photo of its QR.

GET shows the form (Vietnamese; `?lang=en` for English, or the web chat's language cookie);
POST checks what was sent and shows the result above the form. The form is multipart (a text
field `text`, a file field `photo`; the text wins when both are filled); urlencoded and JSON
(`{"text": "HC1:..."}`) bodies are read too. A machine asks with `Accept: application/json` or
`?format=json` and gets `describe_verified(...)`, or `{"valid": false, "reason": ...}` where the
reason is a `Problem` value (the certificate is not valid, status 200) or one of `REFUSALS`
(nothing was checked: 400, 413, 422 or 429). Every answer carries a `message` for people.

Nothing sent is stored or logged. A multipart body is streamed part by part against this
route's own limits (`MAX_PHOTO`, `MAX_TEXT`), so the application's 256 KB body limit stays in
force for every other route; photos are decoded in a thread, `DECODES_AT_ONCE` at a time. Each
client address may check `CHECK_BURST` certificates in a row, then one every few seconds.
"""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import BodyPartReader, web

from bot.clock import Clock
from bot.domain.certificate_issuing import check
from bot.domain.certificate_wording import describe_verified, problem_text, summary
from bot.domain.dcc import DccInvalid
from bot.domain.dcc.qr_reader import ImageTooLarge, NotAnImage, certificate_text, read_qr_texts
from bot.domain.ratelimit import KeyedLimiter
from bot.i18n import DEFAULT_LOCALE, LANGUAGE_NAMES, SUPPORTED, _, use_locale
from bot.web.app_keys import AUTHORITY, DATABASE
from bot.web.chat import LANG_COOKIE
from bot.web.clients import client_key
from bot.web.headers import page_headers

MAX_PHOTO = 5 * 1024 * 1024
MAX_TEXT = 8 * 1024  # a QR code holds at most 4,296 characters
MAX_PARTS = 4
DECODES_AT_ONCE = 2  # a large photo takes a few hundred megabytes while it is decoded
# A person checks a few certificates a minute at most; more is a script.
CHECKS_PER_S, CHECK_BURST = 0.25, 8
# Why nothing was checked (the `reason` a machine reads), with the HTTP status.
EMPTY, NOT_AN_IMAGE, TOO_LARGE, NO_QR_CODE, TOO_MANY = (
    "empty",
    "not_an_image",
    "too_large",
    "no_qr_code",
    "too_many_requests",
)
REFUSALS = {EMPTY: 400, NOT_AN_IMAGE: 422, TOO_LARGE: 413, NO_QR_CODE: 422, TOO_MANY: 429}

CHECKS = web.AppKey("verify_checks", KeyedLimiter)
DECODING = web.AppKey("verify_decoding", asyncio.Semaphore)
CLOCK = web.AppKey[Clock]("verify_clock")
# No inline script or style: the page's style sheet is a file of ours (`STYLE_PATH`).
_HEADERS = page_headers(style_src="'self'")
STYLE_PATH = "/verify/style.css"
_STYLE = (Path(__file__).parent / "static" / "verify.css").read_bytes()
_PAGE = Template("""<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="stylesheet" href="/verify/style.css">
</head>
<body>
<main>
<a class="lang" href="/verify?lang=$switch_lang">$switch_label</a>
<h1>$title</h1>
$result<p>$intro</p>
<form method="post" action="$action" enctype="multipart/form-data">
<label for="text">$text_label</label>
<textarea id="text" name="text" maxlength="$max_text" spellcheck="false"
 autocomplete="off"></textarea>
<label for="photo">$photo_label</label>
<input id="photo" name="photo" type="file" accept="image/png,image/jpeg,image/webp">
<button type="submit">$submit</button>
</form>
<p class="note">$privacy</p>
</main>
</body>
</html>
""")
_RESULT = Template(
    '<section class="result $verdict" role="status"><h2>$heading</h2><p>$message</p></section>\n'
)

routes = web.RouteTableDef()


class Refused(Exception):
    """Nothing was checked; `reason` is one of `REFUSALS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """The answer to one check: for the page (`verdict`, `message`) and for machines (`data`).

    Attributes:
        status: The HTTP status.
        verdict: `valid`, `invalid` (the certificate is not) or `refused` (nothing checked).
        message: What it means, for people, in the current language.
        data: The JSON answer.
    """

    status: int
    verdict: str
    message: str
    data: dict[str, Any]


def setup(app: web.Application, *, clock: Clock) -> None:
    """Register `/verify` on the web application."""
    app[CHECKS] = KeyedLimiter(rate=CHECKS_PER_S, burst=CHECK_BURST)
    app[DECODING] = asyncio.Semaphore(DECODES_AT_ONCE)
    app[CLOCK] = clock
    app.add_routes(routes)


@routes.get("/verify")
async def verify_page(request: web.Request) -> web.Response:
    """The form: paste a certificate's text or choose a photo of its QR code."""
    with use_locale(_locale(request)):
        return _page(request, None)


@routes.get(STYLE_PATH)
async def stylesheet(request: web.Request) -> web.Response:
    """The page's style sheet."""
    return web.Response(
        body=_STYLE,
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@routes.post("/verify")
async def verify_certificate(request: web.Request) -> web.Response:
    """Check the certificate sent; the result page, or JSON for machines."""
    with use_locale(_locale(request)):
        outcome = await _check(request)
        if _wants_json(request):
            return web.json_response(
                outcome.data,
                status=outcome.status,
                dumps=lambda data: json.dumps(data, ensure_ascii=False),
                headers={"Cache-Control": "no-store"},
            )
        response = _page(request, outcome)
    response.headers["Cache-Control"] = "no-store"  # it may show a name and a birth date
    return response


async def _check(request: web.Request) -> Outcome:
    """Check what the request sent against our trust list and revocations."""
    try:
        if not request.app[CHECKS].allow(client_key(request)):
            raise Refused(TOO_MANY)
        text = await _submitted_text(request)
        async with request.app[DATABASE].read_scope() as session:
            verified = await check(session, request.app[AUTHORITY], text, now=request.app[CLOCK]())
    except Refused as refused:
        message = _refusal_text(refused.reason)
        data = {"valid": False, "reason": refused.reason, "message": message}
        return Outcome(REFUSALS[refused.reason], "refused", message, data)
    except DccInvalid as invalid:
        message = problem_text(invalid.reason)
        data = {"valid": False, "reason": invalid.reason.value, "message": message}
        return Outcome(200, "invalid", message, data)
    message = summary(verified)
    return Outcome(200, "valid", message, describe_verified(verified) | {"message": message})


async def _submitted_text(request: web.Request) -> str:
    """The certificate's text: as pasted, else read from the photo.

    Raises:
        Refused: Nothing sent, too much sent, a file that is no picture, or no QR code in it.
    """
    text, photo = await _form(request)
    if len(text) > MAX_TEXT:
        raise Refused(TOO_LARGE)
    if text.strip():
        return text
    if not photo:
        raise Refused(EMPTY)
    try:
        async with request.app[DECODING]:
            found = certificate_text(await asyncio.to_thread(read_qr_texts, photo))
    except ImageTooLarge:
        raise Refused(TOO_LARGE) from None
    except NotAnImage:
        raise Refused(NOT_AN_IMAGE) from None
    if found is None:
        raise Refused(NO_QR_CODE)
    return found


async def _form(request: web.Request) -> tuple[str, bytes]:
    """The `text` and `photo` fields of a multipart, urlencoded or JSON body.

    Raises:
        Refused: A body over its limit, or JSON that does not parse.
    """
    try:
        if request.content_type == "multipart/form-data":
            return await _multipart(request)
        if request.content_type == "application/json":
            body = await request.json()
            text = body.get("text") if isinstance(body, dict) else None
        else:
            text = (await request.post()).get("text")
    except web.HTTPRequestEntityTooLarge:  # over the application's limit
        raise Refused(TOO_LARGE) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(EMPTY) from None
    return (text if isinstance(text, str) else ""), b""


async def _multipart(request: web.Request) -> tuple[str, bytes]:
    """Read a multipart form part by part, each against its own limit.

    Raises:
        Refused: A part over its limit or too many parts (`TOO_LARGE`), a malformed body
            (`EMPTY`).
    """
    if (request.content_length or 0) > MAX_PHOTO + 2 * MAX_TEXT:
        raise Refused(TOO_LARGE)
    fields: dict[str, bytes] = {}
    count = 0
    try:
        async for part in await request.multipart():
            count += 1
            if count > MAX_PARTS:
                raise Refused(TOO_LARGE)
            if not isinstance(part, BodyPartReader):  # a nested multipart: no browser sends it
                raise Refused(EMPTY)
            limit = MAX_PHOTO if part.name == "photo" else MAX_TEXT
            fields.setdefault(part.name or "", await _read_part(part, limit))
    except ValueError:  # a broken boundary or headers: not what a browser sends
        raise Refused(EMPTY) from None
    return fields.get("text", b"").decode("utf-8", "replace"), fields.get("photo", b"")


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    """A part's bytes, read until `limit`.

    Raises:
        Refused: `TOO_LARGE` past the limit (the rest is not read).
    """
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise Refused(TOO_LARGE)
    return bytes(data)


def _refusal_text(reason: str) -> str:
    """Why nothing was checked, in the current language."""
    texts = {
        EMPTY: _("Please paste the certificate's text or choose a photo of its QR code."),
        NOT_AN_IMAGE: _(
            "This file is not a picture that can be read. Please send a photo or a screenshot "
            "(PNG, JPEG or WebP)."
        ),
        TOO_LARGE: _(
            "What you sent is too large. Please send a smaller photo (at most {size} MB)."
        ).format(size=MAX_PHOTO // (1024 * 1024)),
        NO_QR_CODE: _(
            "No QR code was found in the photo. Please take a sharp photo of the whole code in "
            "good light, or paste its text."
        ),
        TOO_MANY: _("Too many checks in a short time. Please wait a minute and try again."),
    }
    return texts[reason]


def _page(request: web.Request, outcome: Outcome | None) -> web.Response:
    """The page in the current language, with the outcome of a check above the form."""
    locale = _locale(request)
    other = "en" if locale == "vi" else "vi"
    values = {
        "lang": locale,
        "switch_lang": other,
        "switch_label": LANGUAGE_NAMES[other],
        "title": _("Check a certificate"),
        "intro": _(
            "Check an EU digital COVID certificate: paste the text of its QR code (it starts "
            "with HC1:), or choose a photo or a screenshot of the QR code."
        ),
        "action": "/verify" if locale == DEFAULT_LOCALE else f"/verify?lang={locale}",
        "text_label": _("Certificate text (HC1:…)"),
        "photo_label": _("Or a photo of the QR code"),
        "submit": _("Check"),
        "privacy": _("What you send is only checked, never stored."),
        "max_text": str(MAX_TEXT),
    }
    page = _PAGE.substitute(
        {key: html.escape(value) for key, value in values.items()},
        result=_result_html(outcome) if outcome else "",
    )
    return web.Response(
        text=page,
        content_type="text/html",
        status=outcome.status if outcome else 200,
        headers=_HEADERS,
    )


def _result_html(outcome: Outcome) -> str:
    headings = {
        "valid": _("Valid certificate"),
        "invalid": _("Not valid"),
        "refused": _("Could not check"),
    }
    return _RESULT.substitute(
        verdict=outcome.verdict,
        heading=html.escape(headings[outcome.verdict]),
        message=html.escape(outcome.message),
    )


def _locale(request: web.Request) -> str:
    """`?lang=`, else the web chat's language, else Vietnamese."""
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in SUPPORTED else DEFAULT_LOCALE


def _wants_json(request: web.Request) -> bool:
    return request.query.get("format") == "json" or "application/json" in request.headers.get(
        "Accept", ""
    )
