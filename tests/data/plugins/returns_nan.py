"""Hostile: returns a reward that is not a number."""


def grade(completion, task):
    return {"reward": float("nan")}
