"""A folder plugin: reward 1 when the answer's word count is within the task's band."""

from .scoring import within

VERSION = "0.3"


def grade(completion, task):
    words = len(completion.split())
    return 1.0 if within(words, task.get("min", 0), task.get("max", 10**9)) else 0.0
