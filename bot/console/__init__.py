"""The staff console at `/console`: server-rendered pages for the people who run the service.

access (roles and scope), gate (sessions, CSRF, refusals), passwords (argon2id, set-password
links), sign_in (passwords, one-time links by chat, growing waits), pages (the routes), render
(templates with the gettext catalogs). docs/console.md describes it.
"""
