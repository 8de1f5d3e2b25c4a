"""Children's routine immunisation: the national schedule as data and the rules engine on it.

`schedule.load_schedule()` reads and validates `schedule_vn.json` (every figure sourced, see
`SOURCES.md`); `rules.assess()` says, for one child on one day, what is done, due, overdue, next
and the catch-up plan. Pure functions: no database, no clock (`today` is always passed in).
"""
