"""Hostile: writes far more than its output limit to the real standard output."""

import sys

LIMITS = {"output_limit_kb": 64}


def grade(completion, task):
    while True:
        sys.__stdout__.write("x" * 4096)
