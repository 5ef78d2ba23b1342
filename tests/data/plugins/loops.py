"""Hostile: never returns."""

LIMITS = {"time_limit_ms": 500}


def grade(completion, task):
    while True:
        pass
