"""Button payload prefixes, by name: what each family of buttons is for.

A button carries a short payload (Telegram allows 64 bytes) that says what it does; its first
part names the family. The wire values are kept short and never change: buttons already sent
into chats keep working after an upgrade (tests/test_architecture.py holds them).
Routed families are matched by `bot.dispatch.routes.ROUTES` whatever step the chat is on; the
others are read by the step that offered them (a stale one is answered as an old button).
"""

from __future__ import annotations

# Routed by their family whatever the chat's step. Those in conversation.GLOBAL_PAYLOADS also
# stay valid after the conversation moved on; link: and child: buttons expire like a form's.
LANGUAGE = "lang:"  # lang:<code>: the chat's language
APPOINTMENT = "appt:"  # appt:<action>:<booking id>: /lichhen
BOOK = "book:"  # book:<person id>: book a registered person (reminders, invitations)
CERTIFICATE = "cert:"  # cert:<id>: a certificate or a result's certificate
CAMPAIGN = "camp:"  # camp:book|no:<id>: a citizen's answer to an invitation campaign
BROADCAST = "bc:"  # bc:stop|rep:<id>: staff's running ward announcement
LINK = "link:"  # link:here|last: /lienket, which chat keeps the records
TICKET = "tk:"  # tk:claim|rate|end: support tickets (bot.domain.tickets)
MENU = "menu:"  # menu:<entry>: the main menu (bot.handlers.menu)
CHILD = "child:"  # child:<step>: a parent adding a child (bot.handlers.children)
RECOVER = "rc:"  # rc:mine|again|help: "this ID number is mine" (bot.handlers.recovery)
FIX = "fix:"  # fix:start: report a wrong dose record, under a "why" answer (issue 16.7)
CHECK_IN = "ci:"  # ci:fine|mild|help:<check-in id>: a post-vaccination check-in's answer

# Read by the step that offered them.
REGISTRATION = "reg:"  # the registration form (bot.handlers.registration)
FORM_BACK = "form:back"  # "Back" after repeated wrong answers in the form
PHONE = "phone:"  # phone:yes|no: the citizen's own number
ERASE = "erase:"  # erase:yes|no: /xoadulieu
CANCEL_BOOKING = "cancel:"  # cancel:yes|no: an appointment's cancellation
LOOKUP = "look:"  # look:tube|id: /tracuu, how to look a result up
DOSE = "dose:"  # dose:yes|no|p:<product>: staff recording a dose (/tiem)
CHILD_DOSE = "cdose:"  # cdose:<vaccine>:<number>: site staff recording a child's dose (/tiemtre)
SAMPLING = "smp:"  # smp:done|drop: a sampler's tube (/laymau)
BROADCAST_DRAFT = "nb:"  # a ward announcement being written (/thongbao)
CAMPAIGN_DRAFT = "cd:"  # an invitation campaign being set up (/chiendich)
# rx:dose|what|when|sev: a reaction report's steps (bot.handlers.reactions); its opening
# button, rx:report, is routed whatever the step (and kept by any form, see conversation.py).
REACTION = "rx:"
FIX_STEP = "fx:"  # fx:<dose id>|nophoto: the wrong-dose report's steps (bot.handlers.record_fixes)

ROUTED = (
    LANGUAGE,
    APPOINTMENT,
    BOOK,
    CERTIFICATE,
    CAMPAIGN,
    BROADCAST,
    LINK,
    TICKET,
    CHILD,
    RECOVER,
    FIX,
    CHECK_IN,
)
