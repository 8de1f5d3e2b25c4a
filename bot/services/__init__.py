"""Staff operations: ward announcements and invitation campaigns."""
