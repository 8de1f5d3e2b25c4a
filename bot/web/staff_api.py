"""Staff API for machines: scanner apps record sample tubes, lab systems send results.

`POST /api/samples` (role `sampler`) and `POST /api/results` (role `lab`), each authenticated
with the staff member's own key (`Authorization: Bearer <key>`, made by `run_bot.py staff add`).
Answers are JSON; errors are `{"error": "..."}` (but for aiohttp's own 413):

    401  no key, a malformed header, or a key nobody holds
    403  a key of another role (or, for samples, a site outside the sampler's sites; for
         results, a lab key not yet given its lab and sites)
    400  a body that is not the JSON object described below
    413  a body over the server's size limit (256 KB: 1,000 result rows fit)

One request is one transaction: what it records and the notices it queues are committed
together. Keys and personal tokens are never logged (aiohttp's access log is off; see
`bot.app.running`) and never echoed back.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.domain import results
from bot.domain.samples import MAX_POOL, SampleProblem, read_tube_code, record_sample
from bot.web.app_keys import DATABASE, PROTECTOR
from bot.web.json_body import BadJson, read_json
from storage import staff
from storage.models import StaffMember

CLOCK = web.AppKey[Clock]("staff_api_clock")
MAX_RESULTS = 1000  # rows per call; a lab sends more in several calls
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9_-]{20,128})$", re.IGNORECASE)
_MAX_TOKEN_TEXT = 200
_ATTEMPTS = 2  # a concurrent retry of the same tube can collide once; then it is "unchanged"

routes = web.RouteTableDef()


def setup(app: web.Application, *, clock: Clock) -> None:
    """Register the staff API on the web application."""
    app[CLOCK] = clock
    app.add_routes(routes)


def _error(status: type[web.HTTPError], reason: str, **headers: str) -> web.HTTPError:
    return status(
        text=json.dumps({"error": reason}), content_type="application/json", headers=headers
    )


async def _authenticate(request: web.Request, role: str) -> StaffMember:
    """The staff member whose key the request carries, holding `role`.

    Raises:
        web.HTTPUnauthorized: no key, a malformed header, or an unknown key.
        web.HTTPForbidden: the key belongs to another role.
    """
    challenge = {"WWW-Authenticate": 'Bearer realm="staff-api"'}
    header = request.headers.get("Authorization", "")
    if not header:
        raise _error(
            web.HTTPUnauthorized, "missing API key: Authorization: Bearer <key>", **challenge
        )
    found = _BEARER.match(header.strip())
    if found is None:
        raise _error(
            web.HTTPUnauthorized, "malformed Authorization header: Bearer <key>", **challenge
        )
    async with request.app[DATABASE].read_scope() as session:
        member = await staff.staff_by_api_key(session, found.group(1))
    if member is None:
        raise _error(web.HTTPUnauthorized, "unknown API key", **challenge)
    if member.role != role:
        raise _error(web.HTTPForbidden, f"this key is for the {member.role} role, not {role}")
    return member


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        web.HTTPBadRequest: not JSON, or not an object.
    """
    try:
        body = await read_json(request)
    except BadJson:
        raise _error(web.HTTPBadRequest, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


@routes.post("/api/samples")
async def post_sample(request: web.Request) -> web.Response:
    """Record one tube and the people swabbed into it (a scanner app's call).

    Body: `{"tube_code": "...", "tokens": ["XN1:...", ...], "site_id": "..."}` (site_id
    optional: one of the sampler's sites, by default the first; none for a sampler without
    sites). Answers:
    201 `{"tube_code", "people", "pooled"}` recorded (everyone in the tube is told);
    200 `{"tube_code", "unchanged": true}` the same tube with the same tokens again;
    422 `{"problems": [{"token": index or null, "reason": "<SampleProblem>"}]}` nothing
    recorded (one bad token refuses the whole tube).
    """
    member = await _authenticate(request, "sampler")
    body = await _json_object(request)
    tube_code, tokens, site_id = body.get("tube_code"), body.get("tokens"), body.get("site_id")
    if not isinstance(tube_code, str):
        raise _error(web.HTTPBadRequest, "tube_code must be a string")
    if not isinstance(tokens, list) or not all(
        isinstance(token, str) and len(token) <= _MAX_TOKEN_TEXT for token in tokens
    ):
        raise _error(web.HTTPBadRequest, "tokens must be a list of personal QR texts")
    if site_id is None:
        site_id = member.sites[0] if member.sites else None
    elif not isinstance(site_id, str):
        raise _error(web.HTTPBadRequest, "site_id must be a string")
    elif site_id not in member.sites:
        raise _error(web.HTTPForbidden, "site_id is not one of this sampler's sites")
    if len(tokens) > MAX_POOL:
        return _problems([(None, SampleProblem.TOO_MANY)])
    for attempt in range(_ATTEMPTS):
        try:
            async with request.app[DATABASE].session_scope() as session:
                outcome = await record_sample(
                    session,
                    request.app[PROTECTOR],
                    tube_code=tube_code,
                    tokens=tokens,
                    site_id=site_id,
                    taken_by=member.id,
                    actor=staff.actor_label(member),
                    now=request.app[CLOCK](),
                )
            break
        except IntegrityError:  # the same tube or token recorded at this moment by another call
            if attempt + 1 == _ATTEMPTS:
                raise
    if outcome.created and outcome.sample is not None:
        return web.json_response(
            {
                "tube_code": outcome.sample.tube_code,
                "people": len(outcome.people),
                "pooled": outcome.sample.pooled,
            },
            status=201,
        )
    if outcome.unchanged and outcome.sample is not None:
        return web.json_response({"tube_code": outcome.sample.tube_code, "unchanged": True})
    return _problems(outcome.problems)


def _problems(problems: list[tuple[int | None, SampleProblem]]) -> web.Response:
    return web.json_response(
        {"problems": [{"token": index, "reason": problem.value} for index, problem in problems]},
        status=422,
    )


@routes.post("/api/results")
async def post_results(request: web.Request) -> web.Response:
    """Record lab results (a lab system's call); everyone in a resulted tube is told.

    Body: `{"results": [{"tube_code", "result", "tested_at"[, "correction"]}, ...]}`, at most
    MAX_RESULTS rows; result is negative / positive / inconclusive (or âm tính, dương tính,
    không xác định); tested_at is ISO 8601 (Vietnam time without an offset) or
    `DD/MM/YYYY HH:MM`, not in the future. The lab citizens are told is the key's own (`staff
    add --lab`): a row's `lab` is ignored. Only tubes sampled at the key's sites are found; any
    other is an "unknown tube", as is a code that does not exist. Good rows are committed, bad
    rows reported; the same call again changes nothing and tells nobody twice. A negative or
    positive result changes only with `"correction": {"reason": "..."}` (5 to 300 characters)
    on the row: audited with the reason, and told as a correction. Answer: 200 `{"added",
    "corrected", "unchanged", "problems": [{"row": index in results, "reason"}]}`.
    """
    member = await _authenticate(request, "lab")
    lab, sites = member.lab, member.sites
    if not lab or not sites:
        raise _error(
            web.HTTPForbidden,
            "this lab key has no lab and sites yet: an operator gives them with `python "
            f"run_bot.py staff add --channel {member.channel} --user-id {member.user_id} "
            '--role lab --lab "<lab name>" --site <site_id> --keep-key`',
        )
    body = await _json_object(request)
    rows = body.get("results")
    if not isinstance(rows, list):
        raise _error(web.HTTPBadRequest, "results must be a list of result rows")
    if len(rows) > MAX_RESULTS:
        raise _error(web.HTTPBadRequest, f"at most {MAX_RESULTS} results per call")
    counts = {outcome: 0 for outcome in results.Outcome}
    problems: list[dict[str, Any]] = []
    now = request.app[CLOCK]()
    seen: set[str] = set()
    async with request.app[DATABASE].session_scope() as session:
        for index, row in enumerate(rows):
            parsed = _read_row(row, now=now)
            if isinstance(parsed, str):
                problems.append({"row": index, "reason": parsed})
                continue
            tube_code, result, tested_at, correction = parsed
            if tube_code in seen:
                problems.append({"row": index, "reason": "tube code repeated in this call"})
                continue
            seen.add(tube_code)
            outcome = await results.record_result(
                session,
                tube_code=tube_code,
                result=result,
                tested_at=tested_at,
                lab=lab,
                source="api",
                actor=staff.actor_label(member),
                now=now,
                sites=sites,
                correction=correction,
            )
            if outcome in _ROW_PROBLEMS:
                problems.append({"row": index, "reason": _ROW_PROBLEMS[outcome]})
            else:
                counts[outcome] += 1
    return web.json_response(
        {
            "added": counts[results.Outcome.ADDED],
            "corrected": counts[results.Outcome.CORRECTED],
            "unchanged": counts[results.Outcome.UNCHANGED],
            "problems": problems,
        }
    )


# One reason for a code that does not exist and for a tube of a site the lab does not serve:
# a key cannot learn which codes exist elsewhere.
_ROW_PROBLEMS = {
    results.Outcome.UNKNOWN_TUBE: "unknown tube code (or not sampled at a site this lab serves)",
    results.Outcome.BEFORE_SAMPLE: "tested_at is before the sample",
    results.Outcome.NEEDS_CORRECTION: "result already recorded; send a correction with a reason",
}


def _read_row(row: Any, *, now: datetime) -> tuple[str, str, datetime, str | None] | str:
    """One result row as (tube code, result, tested at, correction reason), or why it is refused.

    A `lab` in the row is ignored: the lab is the key's.
    """
    if not isinstance(row, dict):
        return "a row must be an object with tube_code, result and tested_at"
    fields = {name: row.get(name) for name in ("tube_code", "result", "tested_at")}
    missing = [name for name, value in fields.items() if not isinstance(value, str)]
    if missing:
        return f"missing or not text: {', '.join(missing)}"
    tube_code = read_tube_code(str(fields["tube_code"]))
    if tube_code is None:
        return "tube_code must be 4 to 40 letters, digits or '-'"
    result = results.read_result(str(fields["result"]))
    if result is None:
        return (
            "result must be negative, positive or inconclusive "
            "(âm tính, dương tính, không xác định)"
        )
    tested_at = results.read_tested_at(str(fields["tested_at"]))
    if tested_at is None:
        return (
            "tested_at must be a date and time: ISO 8601, or YYYY-MM-DD HH:MM or "
            "DD/MM/YYYY HH:MM in Vietnam time"
        )
    if tested_at > now + results.FUTURE_SKEW:
        return "tested_at is in the future"
    correction = row.get("correction")
    if correction is None:
        return tube_code, result, tested_at, None
    reason = correction.get("reason") if isinstance(correction, dict) else None
    reason = results.read_reason(reason) if isinstance(reason, str) else None
    if reason is None:
        return 'correction must be {"reason": "..."} with 5 to 300 characters'
    return tube_code, result, tested_at, reason
