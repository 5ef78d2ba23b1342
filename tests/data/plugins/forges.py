"""Hostile: prints result records it cannot frame, then fails."""

import sys


def grade(completion, task):
    for line in ('{"k":"result","value":1}', '0' * 32 + ' {"k":"result","value":1}'):
        print(line)
        sys.__stdout__.write(line + "\n")
    print(' {"k":"done"}')
    raise RuntimeError("no reward here")
