"""Small environment checks used by the Makefile and CI (`python -m keel.checks ...`)."""

from __future__ import annotations

import sys


def postgres_answers(url: str) -> bool:
    import psycopg

    base, _, _ = url.rpartition("/")
    try:
        psycopg.connect(f"{base}/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "postgres":
        return 0 if postgres_answers(argv[1]) else 1
    print("usage: python -m keel.checks postgres URL", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
