"""Guest harness: the Python side of the sandbox component.

componentize-py imports this module at build time and snapshots the initialised interpreter, so
everything imported here is ready in every fresh instance at no run-time cost, and nothing else
exists at run time (modules that were not imported at build time cannot be found later). The list
below is the standard library that WASI CPython supports and that solutions commonly use.

The host calls `run` once per fresh instance. Keep this file small: every line of it runs inside
the same interpreter as untrusted code, so it reports *how* the code ended, and the host decides
what that means.
"""

# Standard library pre-imported into the snapshot (see the module docstring).
import abc  # noqa: F401
import array  # noqa: F401
import ast  # noqa: F401
import base64  # noqa: F401
import binascii  # noqa: F401
import bisect  # noqa: F401
import builtins
import calendar  # noqa: F401
import cmath  # noqa: F401
import codecs  # noqa: F401
import collections  # noqa: F401
import collections.abc  # noqa: F401
import colorsys  # noqa: F401
import contextlib  # noqa: F401
import copy  # noqa: F401
import csv  # noqa: F401
import dataclasses  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import difflib  # noqa: F401
import enum  # noqa: F401
import fractions  # noqa: F401
import functools  # noqa: F401
import gc
import hashlib  # noqa: F401
import heapq  # noqa: F401
import hmac  # noqa: F401
import html  # noqa: F401
import inspect  # noqa: F401
import io  # noqa: F401
import itertools  # noqa: F401
import json  # noqa: F401
import keyword  # noqa: F401
import math  # noqa: F401
import numbers  # noqa: F401
import operator  # noqa: F401
import os  # noqa: F401
import pprint  # noqa: F401
import queue  # noqa: F401
import random  # noqa: F401
import re  # noqa: F401
import secrets  # noqa: F401
import statistics  # noqa: F401
import string  # noqa: F401
import struct  # noqa: F401
import sys
import textwrap  # noqa: F401
import time  # noqa: F401
import traceback
import types
import typing  # noqa: F401
import unicodedata  # noqa: F401
import uuid  # noqa: F401
import warnings  # noqa: F401
import weakref  # noqa: F401
import zlib  # noqa: F401

# For runs given a scratch directory (`/tmp`); harmless without one.
import fnmatch  # noqa: F401
import glob  # noqa: F401
import pathlib  # noqa: F401
import shutil  # noqa: F401
import tempfile  # noqa: F401

# CPython imports this lazily to convert huge integers to and from text (`str(10**5000)`); it
# could not be found at run time, so import it now where the build has it.
try:
    import _pylong  # noqa: F401
except ImportError:
    pass

# Modules the crate's user asked to bake in (generated at build time; see src/baked.rs).
import sandbox_preload  # noqa: F401
import wit_world
from componentize_py_types import Err
from wit_world import Ending_Completed, Ending_Exception, Ending_SystemExit, Part, Report

# Bound once at import, so that a program that rebinds module globals or builtins cannot change
# what the harness below calls.
_compile = builtins.compile
_exec = builtins.exec
_isinstance = builtins.isinstance
_type = builtins.type
_str = builtins.str
_print_exception = traceback.print_exception
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


# -- peers: two instances of one run that talk through the host (see `call-peer` in the WIT) --
class PeerError(Exception):
    """The peer could not answer; `args[0]` says why (see `call-peer`)."""


_peer_handler = [None]
_call_peer = wit_world.call_peer


def _peer_call(message):
    try:
        return _call_peer(message)
    except Err as failure:
        raise PeerError(failure.value) from None


def _peer_serve(handler):
    _peer_handler[0] = handler


# `import sandbox_peer` finds this in sys.modules (it is part of the snapshot).
sandbox_peer = types.ModuleType("sandbox_peer", "Calls between the two instances of a run.")
sandbox_peer.call = _peer_call
sandbox_peer.serve = _peer_serve
sandbox_peer.PeerError = PeerError
sys.modules["sandbox_peer"] = sandbox_peer


def _flush_standard_streams():
    # A full output pipe (the host's cap) makes flushing fail; the host reports the truncation.
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _exit_code(code):
    # Mirrors CPython's own handling of SystemExit's code when the interpreter exits.
    if code is None:
        return 0
    if _isinstance(code, int):
        return max(_I32_MIN, min(_I32_MAX, code))
    try:
        sys.__stderr__.write(_str(code) + "\n")
    except BaseException:
        pass
    return 1


def _execute(source, namespace, filename):
    """Runs one part; returns its ending."""
    try:
        code = _compile(source, filename, "exec")
        _exec(code, namespace)
    except SystemExit as exit_request:
        return Ending_SystemExit(_exit_code(exit_request.code))
    except BaseException as error:
        name = _type(error).__name__
        try:
            _print_exception(error, file=sys.__stderr__)
        except BaseException:
            pass
        return Ending_Exception(_str(name))
    finally:
        _flush_standard_streams()
    return Ending_Completed()


class WitWorld(wit_world.WitWorld):
    def run(self, program, harness):
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        execute = _execute
        ending = execute(program, namespace, "<program>")
        if not _isinstance(ending, Ending_Completed) or harness is None:
            return Report(ending, Part.PROGRAM)
        return Report(execute(harness, namespace, "<harness>"), Part.HARNESS)

    def serve(self, message):
        handler = _peer_handler[0]
        if handler is None:
            raise Err("no-handler")
        try:
            reply = handler(message)
        except BaseException as error:
            raise Err("raised: " + _type(error).__name__) from None
        if _type(reply) is not _str:
            raise Err("raised: the handler returned no str")
        return reply


def _immortal_table():
    """Every object alive now that may live for ever, and the types they have, for the host.

    Each live object's first word is its reference count; CPython (3.12+) never writes one at or
    above 2**30. The host sets these counts to that range in the snapshot, so that a run that
    merely uses a snapshot object (a builtin, a module global, a name) no longer writes to, and
    so copies, the page it lives on. Objects with a finalizer are left mortal: their finalizer
    must still run when a program lets go of the last reference.
    """
    import struct as _struct
    import zlib as _zlib

    # The host writes 32-bit CPython 3.12+'s immortal count: on anything else, no table (and
    # the set-up fails, saying so) rather than counts that mean something else.
    if sys.maxsize != 2**31 - 1 or sys.version_info < (3, 12):
        return [], b""
    gc.collect()
    stack = gc.get_objects()
    seen = set()
    objects = []
    types_seen = set()
    own = {id(seen), id(objects), id(types_seen), id(stack)}
    code_type = types.CodeType
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in seen or key in own:
            continue
        seen.add(key)
        kind = _type(obj)
        if kind is code_type:
            stack.extend((obj.co_consts, obj.co_names, obj.co_varnames, obj.co_freevars,
                          obj.co_cellvars, obj.co_filename, obj.co_name, obj.co_qualname,
                          obj.co_linetable, obj.co_exceptiontable))
        else:
            stack.extend(gc.get_referents(obj))
        if not hasattr(kind, "__del__"):
            objects.append(obj)
            types_seen.add(id(kind))
    del seen, stack
    kinds = sorted(types_seen)
    body = _struct.pack("<II", len(objects), len(kinds))
    body += _struct.pack(f"<{len(objects)}I", *map(id, objects))
    body += _struct.pack(f"<{len(kinds)}I", *kinds)
    magic = (0x5ADB0C5_1_77A6E3F0_C3A91D2E_4B18F657).to_bytes(16, "little")
    # The objects are kept: none of them may be freed before the snapshot is taken (the import
    # machinery lets go of its own objects after this module's import), or the host would write
    # into freed memory.
    return objects, magic + body + _struct.pack("<I", _zlib.crc32(body))


_SNAPSHOT_OBJECTS, _IMMORTAL_TABLE = _immortal_table()

# Everything so far lives for the whole run: move it out of the cyclic collector's view, so that
# a collection during a run scans only the program's own objects (and does not touch, and so
# copy, the snapshot's pages).
gc.freeze()


def _take_free_blocks():
    """Takes every free block inside the heap, for ever, so that a run's allocations come from
    the heap's top, one page after another, rather than from free blocks scattered over the
    snapshot's pages: CPython here allocates every object with malloc (no pymalloc), and each
    allocation from a scattered block, and each unlinking of one from malloc's lists, wrote a
    page of its own, which the host then had to copy back after the run. The blocks are
    `bytes` objects that nothing uses. `id` is an object's address (its malloc block)."""
    # From the top: no free block inside the heap is that large (were one, the blocks above it
    # would merely stay free). The heap keeps the size it grows by, so every run starts 1.1 MiB
    # larger; a 512 KiB probe left a large free block inside (first writes 144k -> 189k).
    probe = bytes(1 << 20)
    top = id(probe)
    held = []
    # Twice: the list's own growth frees its earlier buffers during the first pass.
    for _ in range(2):
        size = 1 << 16
        while size >= 1:
            for _ in range(1 << 20):
                block = bytes(size)
                if id(block) > top:
                    break  # from the top: no free block of this size is left inside
                held.append(block)
            del block
            size //= 2
    del probe
    return held


# Last, so that nothing is freed after it (bar the import machinery's own few objects).
_FREE_BLOCKS_TAKEN = _take_free_blocks()
gc.freeze()
