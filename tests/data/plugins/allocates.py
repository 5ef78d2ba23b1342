"""Hostile: allocates without bound."""

LIMITS = {"memory_limit_mb": 64}


def grade(completion, task):
    hoard = []
    while True:
        hoard.append(bytearray(1 << 20))
