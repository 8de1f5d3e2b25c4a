"""Button payloads no button of ours carries, and what the bot answers a button it cannot use.

A payload is whatever the client sends (web chat, Telegram callback data, a Zalo text), so these
name ids no row can have: too large for a row id, digits only to `str.isdigit`, zero.
"""

from __future__ import annotations

from bot.messages import MAX_PAYLOAD_ID

OLD_BUTTON = (
    "Nút này thuộc một tin nhắn cũ. Bạn vui lòng trả lời câu hỏi gần nhất, "
    "hoặc gõ /huy để dừng lại."
)
MENU_EXPIRED = "Menu này đã hết hạn. Mời bạn dùng menu mới bên dưới."
HUGE = "99999999999999999999"
MADE_UP = [
    f"appt:qr:{HUGE}",
    f"appt:coming:{MAX_PAYLOAD_ID + 1}",
    f"appt:cancel:{HUGE}{HUGE}",
    "appt:qr:²",  # a digit to str.isdigit, not to int()
    "appt:move:٣",  # an Arabic-Indic three
    "book:-1",  # a number, but no row's id
    "cert:send:",  # no id at all
    f"book:{HUGE}",
    f"cert:send:{HUGE}",
    f"cert:test:1:{HUGE}",
    f"camp:book:{HUGE}",
    f"camp:pause:{HUGE}",
    f"bc:rep:{HUGE}",
    f"tk:rate:{HUGE}:5",
    "tk:rate:1:0",
]
