"""Hostile: raises SystemExit."""

import sys


def grade(completion, task):
    sys.exit(0)
