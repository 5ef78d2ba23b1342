"""Hostile: ends the interpreter instead of returning."""

import os


def grade(completion, task):
    os._exit(0)
