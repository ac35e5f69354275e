"""The security audit log: who did what to whom, from where, written once and never edited.

`services.record` is the only way in; the database refuses updates and deletes (see
migrations/0002_append_only.py), so an operator can rely on what the log says.
"""
