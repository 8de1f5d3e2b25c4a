"""Persistence: engine and units of work (`db`), schema (`models`), one query module per entity.

Query functions take the session first and keyword-only arguments after; they never
commit: the caller owns the unit of work.
"""
