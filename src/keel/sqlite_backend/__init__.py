"""Keel's SQLite database backend (``ENGINE = "keel.sqlite_backend"``): Django's own, with
write transactions that wait for the database's write lock in short steps (see base.py)."""
