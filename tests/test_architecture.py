"""The shape of the house, read from the code with `ast`: imports, names, the clock, lengths.

- No import circle among the modules of bot/ and storage/, and every import points down the
  layers (LAYERS, lowest first): a module imports its own layer or a lower one, never a higher.
- No two modules of bot/ share a name, so a name says which module is meant.
- Nothing reads the wall clock but bot/clock.py (and storage's column defaults): the service is
  given a clock by its composition root, and storage and the CLI take the time as an argument.
- No function is longer than MAX_FUNCTION_LINES, but for LONG_FUNCTIONS, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from bot import payloads
from bot.clock import Clock as ClockProtocol
from bot.clock import wall_clock
from bot.dispatch.routes import ROUTES
from bot.handlers import broadcasts, campaigns
from bot.messages import ChatRef, Incoming, Kind
from tests.clock import Clock

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the longest name it equals or lies under, so
# `bot.channels` (the Channel protocol) sits below the channel packages.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("storage",),
    # the foundation: settings, words, time, plain messages, the channel protocol
    ("bot.clock", "bot.config", "bot.crypto", "bot.i18n", "bot.idle", "bot.logs"),
    ("bot.messages", "bot.payloads", "bot.vn", "bot.channels"),
    # rules over a session; CSV imports are rules over a file
    ("bot.domain", "bot.imports"),
    # the conversation facade, over the rules
    ("bot.conversation",),
    # long-running loops and the platforms
    ("bot.workers", "bot.channels.telegram", "bot.channels.zalo", "bot.channels.web_chat"),
    ("bot.handlers",),
    ("bot.dispatch",),
    ("bot.web", "bot.console", "bot.demo"),
    ("bot.app",),
    ("bot.cli",),
)

# Modules that may share a name, each with its reason (none today).
SHARED_NAMES: dict[str, str] = {}

# Where the wall clock may be read: the production clock itself, and storage's column defaults
# (a row written without a time: the schema's own default, not a rule).
WALL_CLOCK_READERS = {"bot/clock.py", "storage/models.py"}

MAX_FUNCTION_LINES = 40
# Functions allowed to be longer, each with why its length is earned.
LONG_FUNCTIONS = {
    "bot/app.py:build_service": "the composition root: every part wired in dependency order",
    "bot/app.py:running": "start-up and its mirror-image shutdown, step by step, in one place",
    "bot/config.py:from_env": "one line per setting, in the order of docs/operations.md",
    "bot/cli/arguments.py:add_commands": "argparse declarations, one per option",
    "bot/cli/arguments.py:_add_campaign_commands": "argparse declarations, one per option",
    "bot/domain/doses.py:record_dose": "one transaction's steps in order (record, booking, "
    "audit, certificate, notice, next-dose reminder)",
    "bot/domain/samples.py:record_sample": "one transaction's checks and writes in order",
    "bot/domain/results.py:record_result": "one transaction: the result, its correction rule, "
    "the notices to everyone in the tube",
    "bot/domain/reminders.py:remind_appointment": "one notice's facts for chat and template",
    "bot/domain/tickets.py:open_ticket": "one transaction: ticket, header, context, desk rows",
    "bot/domain/lookups.py:record_failure": "waits and the staff alarm in one transaction",
    "bot/domain/certificate_issuing.py:issue_for_dose": "the EU DCC payload's fields in order",
    "bot/domain/dcc/issue.py:vaccination_payload": "follows the EU DCC schema's field order",
    "bot/domain/dcc/keys.py:create_dsc": "an X.509 certificate's fields, as the EU DCC "
    "certificate governance lists them",
    "bot/domain/dcc/keys.py:create_csca": "an X.509 certificate's fields, as the EU DCC "
    "certificate governance lists them",
    "bot/domain/dcc/verify.py:verify": "the EU DCC verification steps in the specification's "
    "order",
    "bot/domain/immunisation/schedule.py:_dose": "one schedule entry's fields, each validated",
    "bot/domain/immunisation/rules.py:_missing": "the schedule rules' cases in order",
    "bot/imports.py:import_vaccinations": "a CSV import: parse, check, write, report per line",
    "bot/imports.py:import_results": "a CSV import: parse, check, write, report per line",
    "bot/imports.py:import_slots": "a CSV import: parse, check, write, report per line",
    "bot/imports.py:import_sites": "a CSV import: parse, check, write, report per line",
    "bot/imports.py:one": "a CSV line's columns checked in order",
    "bot/web/staff_api.py:post_results": "a JSON request's fields checked in order, one answer "
    "per problem (docs/staff-api.md)",
    "bot/web/staff_api.py:post_sample": "a JSON request's fields checked in order, one answer "
    "per problem (docs/staff-api.md)",
    "bot/web/zalo_webhook.py:zalo_webhook": "reference/channels.md's order: signature, body, "
    "time, store, answer",
    "bot/web/server.py:build_web_app": "every route in one place",
    "bot/channels/telegram/bot_api.py:_to_incoming": "one case per Telegram update kind",
    "bot/channels/telegram/bot_api.py:poll": "getUpdates with its error cases, as PTB's docs",
    "bot/channels/telegram/request.py:do_request": "PTB's BaseRequest contract, one branch "
    "per body kind",
    "bot/workers/sender.py:_deliver": "one send's outcomes, one branch per SendError",
    "bot/workers/sender.py:_write_outcomes": "one statement per outcome kind, in one transaction",
    "bot/dispatch/unit_of_work.py:_process": "the unit of work's steps in order (see its "
    "docstring)",
    "storage/campaigns.py:report": "one SQL report, its columns in the order printed",
    "storage/campaigns.py:_query": "one SQL rule (tests/test_campaigns.py checks it against "
    "the Python rule)",
    "storage/people.py:erase_for_account": "every table a person is in, one statement each",
    "run_bot.py:main": "the command line's cases and their exit codes, in one place",
}


def sources() -> Iterator[Path]:
    """Every module of bot/ and storage/ (migrations apart: each is frozen in time)."""
    for folder in ("bot", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    """`bot/handlers/registration/__init__.py` -> `bot.handlers.registration`."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sources()}


def imports_of(path: Path) -> set[str]:
    """The modules of bot/ and storage/ a module names in its imports (a `from a import b` of a
    submodule names `a.b`; of anything else, `a`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {name for name in found if name in MODULES and name != "bot"}


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> int:
    """The index in LAYERS of the longest layer name the module equals or lies under."""
    best, best_length = -1, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_length:
                best, best_length = index, len(name)
    return best


def test_every_module_has_a_layer() -> None:
    assert not [m for m in MODULES if layer(m) < 0 and m != "bot"]


def test_no_import_circle() -> None:
    done: set[str] = set()
    circles = []

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_imports_point_down() -> None:
    upward = sorted(
        f"{source} ({layer(source)}) -> {target} ({layer(target)})"
        for source, targets in GRAPH.items()
        for target in targets
        if source != "bot" and layer(target) > layer(source)
    )
    assert not upward, "\n".join(upward)


def test_no_two_modules_of_bot_share_a_name() -> None:
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name != "__init__.py":
            seen.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert set(shared) <= set(SHARED_NAMES), shared


def _reads_wall_clock(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner, attribute = node.func.value, node.func.attr
    name = owner.id if isinstance(owner, ast.Name) else ""
    return (name in ("datetime", "date") and attribute in ("now", "utcnow", "today")) or (
        name == "time" and attribute == "time"
    )


def test_only_the_clock_reads_the_wall_clock() -> None:
    readers = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in [*sources(), ROOT / "run_bot.py"]
        if str(path.relative_to(ROOT)) not in WALL_CLOCK_READERS
        for node in ast.walk(ast.parse(path.read_bytes()))
        if _reads_wall_clock(node)
    )
    assert not readers


def test_the_tests_clock_is_a_clock() -> None:
    for clock in (Clock(), wall_clock):
        assert isinstance(clock, ClockProtocol)
        now: datetime = clock()
        assert now.tzinfo is not None


def test_functions_are_short_or_say_why() -> None:
    long = {}
    for path in [*sources(), ROOT / "run_bot.py"]:
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1 if node.end_lineno else 0
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    unexplained = {name: lines for name, lines in long.items() if name not in LONG_FUNCTIONS}
    assert not unexplained, unexplained
    stale = sorted(set(LONG_FUNCTIONS) - set(long))
    assert not stale, f"short now, take them off LONG_FUNCTIONS: {stale}"


# Buttons already in chats: (wire prefix, the step it is for or None, the route it must reach).
OLD_BUTTONS = [
    ("lang:", None, "language button"),
    ("appt:", None, "appointment button"),
    ("book:", None, "book a registered person"),
    ("cert:", None, "certificate button"),
    ("camp:", None, "campaign button"),
    ("bc:", None, "broadcast button"),
    ("link:", None, "link button"),
    ("tk:", None, "ticket button"),
    ("tk:rate:", None, "rating button"),
    ("child:", None, "children's immunisation"),
    ("rc:", None, "ID recovery button"),
    ("ci:", None, "check-in answer"),
    ("nb:", broadcasts.FLOW, "flow step"),
    ("cd:", campaigns.FLOW, "flow step"),
    ("reg:", "register", "flow step"),
    ("form:back", "register", "flow step"),
]


class _Chat:
    """What the route rules read of a conversation: consented, no ticket, on a step or not."""

    stale_button = False
    consented = True
    ticket_id = None

    def __init__(self, flow: str | None) -> None:
        self.flow = flow
        self.step = None


def test_old_button_prefixes_still_route() -> None:
    wires = {
        value for name, value in vars(payloads).items() if name.isupper() and name != "ROUTED"
    }
    assert {wire for wire, _flow, _route in OLD_BUTTONS} - {"tk:rate:"} <= wires
    for wire, flow, expected in OLD_BUTTONS:
        msg = Incoming(ChatRef("web", "1"), "1", Kind.BUTTON, payload=f"{wire}1")
        chosen = next(name for name, rule, _handler in ROUTES if rule(msg, _Chat(flow)))  # type: ignore[arg-type]
        assert chosen == expected, wire
