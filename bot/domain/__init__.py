"""Domain rules over plain data and sessions, below the handlers and above storage."""
