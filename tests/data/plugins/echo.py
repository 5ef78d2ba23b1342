"""Naive but honest: reward 1 when the completion is exactly the task's answer.

It prints the completion and the task for debugging, so any text the completion carries reaches
the plugin's output: the tests check that none of it can pass for the plugin's result.
"""

VERSION = "2.1"


def grade(completion, task):
    print(completion)
    print(task)
    return 1.0 if completion.strip() == str(task.get("answer")) else 0.0
