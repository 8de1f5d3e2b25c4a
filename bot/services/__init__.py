"""Domain services: plain async functions and the outbox sender."""
