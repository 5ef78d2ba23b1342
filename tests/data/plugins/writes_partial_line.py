"""Honest, with a debugging write: echoes the completion without a newline, then grades exact match."""

import sys


def grade(completion, task):
    sys.stdout.write(completion)
    return 1.0 if completion.strip() == task.get("answer") else 0.0
