"""Hostile: returns text."""


def grade(completion, task):
    return "full marks"
