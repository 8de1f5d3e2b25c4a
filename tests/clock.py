"""The tests' clock: every test starts at the same moment, whatever the machine's clock says."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day

from bot.i18n import TIMEZONE

# Every test starts at this moment, whatever the machine's clock says: a Thursday morning in
# Vietnam, inside Zalo's template hours and outside the scheduler's quiet hours.
START = datetime(2026, 12, 3, 9, 0, tzinfo=TIMEZONE)


class Clock:
    """The tests' UTC clock: starts at `START` and ticks with the time that really passes.

    It ticks so that waits of a few seconds (a retry's back-off) still come due; a clock made
    with `ticking=False` stands still between moves, so "now" can be compared exactly.
    `advance`, `set` and `set_local` move it.
    """

    def __init__(self, start: datetime = START, *, ticking: bool = True) -> None:
        self._moment = start.astimezone(UTC)
        self._ticking = ticking
        self._since = time.monotonic()

    def __call__(self) -> datetime:
        if not self._ticking:
            return self._moment
        return self._moment + timedelta(seconds=time.monotonic() - self._since)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`."""
        self._moment += delta

    def set(self, moment: datetime) -> datetime:
        """Move the clock to `moment` (forward or back); return it."""
        self._moment, self._since = moment.astimezone(UTC), time.monotonic()
        return moment

    def set_local(self, hour: int, minute: int = 0, *, day: date | None = None) -> datetime:
        """Move to `hour:minute` in Vietnam on `day`, or at its next occurrence (forward)."""
        if day is not None:
            return self.set(datetime.combine(day, time_of_day(hour, minute), TIMEZONE))
        local = self().astimezone(TIMEZONE)
        moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment <= local:
            moment += timedelta(days=1)
        return self.set(moment)
