# The code grader's trusted Python harness (see graders/src/code/mod.rs for the threat model).
#
# This file is baked into the Python sandbox as the module `verifier_code_harness` (see
# `PYTHON_HARNESS_MODULE`): imported when the sandbox is built, it is ready in every fresh
# instance at no cost. A run's program is a bootstrap that calls `_harness_main` with the JSON
# configuration it reads from standard input (the nonce, the tests; in `call` mode the
# candidate's code too), and, for `assert` tests, the run's peer instance is a bootstrap that
# calls `_candidate_main` with the candidate's code.
#
# Two ways of running (see graders/src/code/mod.rs): `assert` tests run in the trusted instance
# (`_trusted_assert`) and call the candidate's code in the run's peer instance
# (`_candidate_main`); `call` tests run the candidate here, in one instance (`mode_call`), and
# the host compares the values.
#
# Protocol: every record is one line `<nonce> <json>` written to the real standard output. The
# nonce is fresh per run and never shown to the model. The candidate's own prints go to a sink.
# Records: prepared and plan (assert tests), syntax_error, load_error, test (assert mode; `v` is
# pass, neutral, fail, error or ended), trailing_error, case (call mode), harness_error, and
# finally done.

# Imported and defined once, at build time. `_harness_main` copies what it uses into its own
# frame before the candidate's code exists, so rebinding these module globals later changes
# nothing for the run in progress.
import ast as _ast
import atexit as _atexit
import builtins as _builtins
import collections as _collections
import json as _json
import marshal as _marshal
import sys as _sys
import types as _types

try:
    from _json import encode_basestring_ascii as _quote  # C: the candidate cannot patch it
except ImportError:
    from json.encoder import py_encode_basestring_ascii as _quote


def _plain_number(value):
    # An exact `int` or `float` as JSON: integers beyond what a double holds exactly, NaN and
    # the infinities as tags. (In `call` mode the candidate could rebind this; it would only
    # change the values it reports, which it controls anyway: the host compares them.)
    if type(value) is int:
        return value if -(2**53) < value < 2**53 else {"$int": int.__repr__(value)}
    if value != value:
        return {"$float": "nan"}
    if value in (float("inf"), float("-inf")):
        return {"$float": "inf" if value > 0 else "-inf"}
    return value


# The exceptions that say a program does not parse (SyntaxError and its subclasses).
_SYNTAX_ERRORS = frozenset({"SyntaxError", "IndentationError", "TabError"})


class _NotPlain(Exception):
    pass


class _Wrong(Exception):
    pass


class _Stop(Exception):
    pass


class _Sink:
    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _harness_main(config_text):
    # Bound here, before the candidate's code exists in `call` mode, so that rebinding module
    # globals later changes nothing for the run in progress.
    sys, builtins, json, atexit = _sys, _builtins, _json, _atexit
    collections, types = _collections, _types
    quote = _quote
    NotPlain, Sink = _NotPlain, _Sink

    config = json.loads(config_text)
    nonce = config.pop("nonce")
    real_write = sys.stdout.write
    real_flush = sys.stdout.flush
    settrace, setprofile = sys.settrace, sys.setprofile
    clear_atexit = atexit._clear
    exact_type, repr_of, length = type, repr, len
    int_repr, float_repr = int.__repr__, float.__repr__
    base_exception = BaseException
    is_callable = callable
    dict_like = (collections.Counter, collections.OrderedDict, collections.defaultdict)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)

    # -- records ---------------------------------------------------------------------------
    def dumps(value):
        t = exact_type(value)
        if value is None:
            return "null"
        if t is bool:
            return "true" if value else "false"
        if t is str:
            # A lone surrogate (`"\ud800"`) would make the host's JSON reader drop the record.
            return quote(value.encode("utf-8", "replace").decode("utf-8"))
        if t is int:
            return int_repr(value)
        if t is float:
            return float_repr(value)
        if t is list:
            return "[" + ",".join([dumps(v) for v in value]) + "]"
        if t is dict:
            return "{" + ",".join([quote(k) + ":" + dumps(v) for k, v in value.items()]) + "}"
        raise NotPlain("record holds a " + t.__name__)

    def emit(record):
        real_write(nonce + " " + dumps(record) + "\n")
        real_flush()

    def short(text, limit=160):
        text = str(text)
        return text if length(text) <= limit else text[: limit - 20] + "..." + text[-17:]

    # -- the candidate's values, as plain data ---------------------------------------------
    # Only exact built-in types pass; anything else (an always-equal object, a subclass of int
    # with its own __eq__) is refused before any comparison can see it.
    def to_plain(value, depth=0):
        if depth > 64:
            raise NotPlain("nested deeper than 64 levels")
        t = exact_type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int or t is float:
            return _plain_number(value)
        if t is list:
            return [to_plain(v, depth + 1) for v in list(value)]
        if t is tuple:
            return {"$tuple": [to_plain(v, depth + 1) for v in list(value)]}
        if t is set or t is frozenset:
            return {"$set": [to_plain(v, depth + 1) for v in list(value)]}
        if t is dict or t in dict_like:
            items = list(dict.items(value))
            if all(exact_type(k) is str and not k.startswith("$") for k, _ in items):
                return {k: to_plain(v, depth + 1) for k, v in items}
            return {"$dict": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in items]}
        if t is bytes:
            return {"$bytes": value.hex()}
        if t is complex:
            return {"$complex": [to_plain(value.real), to_plain(value.imag)]}
        raise NotPlain("returned a value of type " + short(t.__name__, 60) + ", not a plain value")

    def plain_copy(value, depth=0):
        # A fresh object of exact built-in types, so comparisons in the tests run C code only.
        if depth > 64:
            raise NotPlain("nested deeper than 64 levels")
        t = exact_type(value)
        if value is None or t in (bool, str, int, float, bytes, complex):
            return value
        if t is list:
            return [plain_copy(v, depth + 1) for v in list(value)]
        if t is tuple:
            return tuple([plain_copy(v, depth + 1) for v in list(value)])
        if t is set:
            return set([plain_copy(v, depth + 1) for v in list(value)])
        if t is frozenset:
            return frozenset([plain_copy(v, depth + 1) for v in list(value)])
        if t is dict or t in dict_like:
            return {plain_copy(k, depth + 1): plain_copy(v, depth + 1) for k, v in list(dict.items(value))}
        raise NotPlain("returned a value of type " + short(t.__name__, 60) + ", not a plain value")

    sink = Sink()

    def confined(action):
        sys.stdout = sys.stderr = sink
        try:
            return action()
        finally:
            settrace(None)
            setprofile(None)

    def describe(error):
        return {"type": exact_type(error).__name__, "msg": short(error)}

    # -- running the candidate's code ------------------------------------------------------
    candidate_globals = {"__name__": "__candidate__", "__builtins__": builtins}

    def load_candidate():
        try:
            code = compile(config["code"], "<candidate>", "exec")
        except base_exception as error:
            # Only the parser's verdict is a syntax error: compiling can also run out of memory
            # or recursion (`MemoryError`, or a `SystemError` from a NULL without an exception).
            if exact_type(error).__name__ in _SYNTAX_ERRORS:
                emit({"k": "syntax_error", "msg": short(error, 300)})
            else:
                emit(dict({"k": "load_error"}, **describe(error)))
            return False

        def run():
            exec(code, candidate_globals)

        try:
            confined(run)
        except base_exception as error:
            emit(dict({"k": "load_error"}, **describe(error)))
            return False
        return True

    def untag(fields):
        # Arguments use the tags of `to_plain` where JSON has no exact form: `{"$int": "digits"}`.
        # As the parser's object hook it sees only objects, so untagged arguments cost nothing.
        if length(fields) == 1 and exact_type(fields.get("$int")) is str:
            return int(fields["$int"])
        return fields

    def mode_call():
        decode = json.JSONDecoder(object_hook=untag).decode
        all_args = [decode(text) for text in config["cases"]]
        # From here on the candidate's code is in this interpreter: the host trusts no
        # harness_error record written after this one.
        emit({"k": "loading"})
        if not load_candidate():
            return
        function = candidate_globals.get(config["fn_name"])
        # Any callable: a function under `functools.cache` or `lru_cache` (evalplus passes
        # HumanEval/55 so) is no function object. The candidate shares this instance anyway.
        if function is None or not is_callable(function):
            emit({"k": "load_error", "type": "NameError", "msg": "no function named " + short(config["fn_name"], 80)})
            return
        for index, original in enumerate(all_args):
            args = plain_copy(original)
            try:
                value = to_plain(confined(lambda: function(*args)))
                emit({"k": "case", "i": index, "value": value})
            except NotPlain as error:
                emit({"k": "case", "i": index, "type": "NotPlain", "msg": short(error)})
            except base_exception as error:
                emit(dict({"k": "case", "i": index}, **describe(error)))
                if config["early_stop"]:
                    return

    try:
        if config["mode"] == "call":
            mode_call()
        else:
            _trusted_assert(config, emit)
    except base_exception as error:
        emit({"k": "harness_error", "msg": short(repr_of(error), 300)})
    clear_atexit()
    emit({"k": "done"})


# == `assert` tests: two instances ========================================================
#
# The tests run in the *trusted* instance (`_trusted_assert`, the run's main program); the
# candidate's code runs in the run's *peer* instance (`_candidate_main`), which never sees the
# tests, their expected values, the records or the nonce. Every name of the candidate's that the
# tests use is a proxy here: a call sends its arguments as tagged plain data through the host
# (`sandbox_peer.call`), the peer runs it, and the result comes back as plain data from which
# fresh built-in objects are made, so the tests' own `==` compares values the candidate cannot
# shape. Objects that are not plain values (instances of the candidate's classes) stay in the
# peer: this side holds a handle whose attribute reads, writes and calls are forwarded.

_BUILTIN_TYPES = {
    t.__name__: t
    for t in (int, float, str, bool, bytes, bytearray, complex, list, tuple, dict, set, frozenset, type, object)
}


_BUILTIN_EXCEPTIONS = {
    name: value
    for name, value in vars(_builtins).items()
    if isinstance(value, type) and issubclass(value, Exception) and not issubclass(value, (StopIteration, StopAsyncIteration))
}


class _Tags:
    """The tagged plain-data form of values, shared by both sides.

    JSON has no tuples, sets, non-string keys, bytes, big integers (for the host's reader),
    NaN or infinities: those travel as one-key objects whose key starts with `$`; a dict with a
    key starting with `$` travels as `{"$dict": [[k, v], ...]}`, so no tag can be forged."""

    @staticmethod
    def plain(value, objects, depth=0):
        # `objects(value)` returns the tagged form of a value that is not plain data, or raises.
        if depth > 100:
            raise _NotPlain("nested deeper than 100 levels")
        t = type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int or t is float:
            return _plain_number(value)
        if t is list:
            return [_Tags.plain(v, objects, depth + 1) for v in value]
        if t is tuple:
            return {"$tuple": [_Tags.plain(v, objects, depth + 1) for v in value]}
        if t is set or t is frozenset:
            return {"$" + t.__name__: [_Tags.plain(v, objects, depth + 1) for v in value]}
        if t is dict:
            if all(type(k) is str and not k.startswith("$") for k in value):
                return {k: _Tags.plain(v, objects, depth + 1) for k, v in value.items()}
            return {"$dict": [[_Tags.plain(k, objects, depth + 1), _Tags.plain(v, objects, depth + 1)] for k, v in value.items()]}
        if t is bytes or t is bytearray:
            return {"$" + t.__name__: value.hex()}
        if t is complex:
            return {"$complex": [_Tags.plain(value.real, objects), _Tags.plain(value.imag, objects)]}
        if t is type and _BUILTIN_TYPES.get(value.__name__) is value:
            return {"$type": value.__name__}
        return objects(value)

    @staticmethod
    def hook(handle):
        # The JSON object hook that rebuilds values; `handle(fields)` makes what `$handle` names.
        def untag(fields):
            if len(fields) != 1:
                return fields
            (key, value), = fields.items()
            if not key.startswith("$"):
                return fields
            if key == "$int":
                return int(value)
            if key == "$float":
                return float(value)
            if key == "$tuple":
                return tuple(value)
            if key == "$set":
                return set(value)
            if key == "$frozenset":
                return frozenset(value)
            if key == "$dict":
                return {k: v for k, v in value}
            if key == "$bytes":
                return bytes.fromhex(value)
            if key == "$bytearray":
                return bytearray.fromhex(value)
            if key == "$complex":
                return complex(value[0], value[1])
            if key == "$type":
                return _BUILTIN_TYPES[value]
            if key == "$handle":
                return handle(value)
            raise _NotPlain("unknown tag " + key[:40])

        return untag


# -- the candidate's side (the peer instance) -------------------------------------------------
# Nothing here needs protecting from the candidate: this instance holds nothing but the
# candidate's own code and the arguments the tests pass it.

def _candidate_main(code):
    import sandbox_peer

    # Integers of any size cross as digits, as on the tests' side (a correct answer of 5,000
    # digits must not fail on Python's default cap on `str(int)`).
    if hasattr(_sys, "set_int_max_str_digits"):
        _sys.set_int_max_str_digits(0)

    namespace = {"__name__": "__candidate__", "__builtins__": _builtins}
    objects = []  # handles are indices into this list
    loaded = {}

    def as_handle(value):
        objects.append(value)
        return {"$handle": [len(objects) - 1, type(value).__name__[:60]]}

    def plain(value):
        # The candidate's values as plain data; subclasses of built-in types as their base type,
        # as the tests' `==` would mostly see them; anything else stays here as a handle.
        t = type(value)
        for base in (bool, int, float, str, bytes, tuple, list, dict, set, frozenset):
            if t is not base and isinstance(value, base):
                return _Tags.plain(base(value), as_handle)
        return as_handle(value)

    decode = _json.JSONDecoder(object_hook=_Tags.hook(lambda ref: objects[ref[0]])).decode

    def described(error):
        try:
            message = str(error)
        except BaseException:
            message = "(its message could not be read)"
        return {"type": type(error).__name__[:80], "msg": message[:300]}

    sink = _Sink()
    _sys.stdout = _sys.stderr = sink
    try:
        compiled = compile(code, "<candidate>", "exec")
    except BaseException as error:
        loaded["failed"] = dict({"k": "syntax_error"}, **described(error))
    else:
        try:
            exec(compiled, namespace)
        except BaseException as error:
            loaded["failed"] = dict({"k": "load_error"}, **described(error))

    def names():
        found = {}
        for name, value in list(namespace.items()):
            if name.startswith("__"):
                continue
            if isinstance(value, _types.ModuleType):
                found[name] = "module:" + value.__name__
            elif isinstance(value, type) and issubclass(value, BaseException):
                found[name] = "exception"
            elif callable(value):
                found[name] = "callable"
        return found

    def serve(message):
        _sys.stdout = _sys.stderr = sink
        request = decode(message)
        op = request["op"]
        if op == "load":
            return _json.dumps({"value": loaded if loaded else {"names": names()}})
        try:
            target = objects[request["handle"]] if "handle" in request else namespace[request["name"]]
            if op == "call":
                args = request["args"]
                value = target(*args, **request["kwargs"])
                # The mutable arguments as the call left them, for the tests' side to update
                # its own; one of them returned is named as such (`r is a` holds there too).
                answer = {"args": {str(i): _Tags.plain(a, plain) for i, a in enumerate(args) if type(a) in _MUTABLE}}
                same = [i for i, a in enumerate(args) if a is value and type(a) in _MUTABLE]
                if same:
                    answer["arg"] = same[0]
                else:
                    answer["value"] = _Tags.plain(value, plain)
                return _json.dumps(answer)
            elif op == "getattr":
                value = getattr(target, request["attr"])
            else:
                setattr(target, request["attr"], request["value"])
                value = None
            return _json.dumps({"value": _Tags.plain(value, plain)})
        except BaseException as error:
            return _json.dumps({"raised": described(error)})

    sandbox_peer.serve(serve)


# -- the tests' side (the trusted instance) ---------------------------------------------------

class _PeerFailed(Exception):
    """The candidate's instance could not answer: it ran out of time or memory, exited, trapped."""


class _Raised(Exception):
    """An exception raised by the candidate's code, as its type name and message."""

    def __init__(self, type_name, message):
        Exception.__init__(self, type_name + ": " + message)
        self.type_name, self.message = type_name, message


class _Remote:
    """The channel to the candidate's instance, and the count of calls made through it."""

    def __init__(self, peer):
        self.peer = peer
        self.calls = 0
        # Why the candidate's instance stopped answering, once it has: every later request
        # fails the same way, and the test it happened in fails whatever the test code made of
        # the error (an `except Exception` around a call that exited or ran out of time must
        # not pass), as in the JavaScript harness.
        self.ended = None
        # Stand-ins for the candidate's exception classes, so that a test's `except
        # InvalidInput:` catches what the candidate raised under that name.
        self.exceptions = {}
        self.decode = _json.JSONDecoder(object_hook=_Tags.hook(lambda ref: _Handle(self, ref[0], ref[1]))).decode

    def request(self, fields):
        return self.exchange(fields).get("value")

    def exchange(self, fields):
        self.calls += 1
        if self.ended is not None:
            raise _PeerFailed(self.ended)
        try:
            answer = self.peer.call(_json.dumps(fields, allow_nan=False))
        except self.peer.PeerError as failure:
            self.ended = _short(str(failure.args[0]), 200)
            raise _PeerFailed(self.ended) from None
        reply = self.decode(answer)
        if type(reply) is not dict:
            raise _NotPlain("the candidate's instance answered with no object")
        if "raised" in reply:
            raised = reply["raised"]
            if type(raised) is not dict or type(raised.get("type")) is not str:
                # Only a forged answer lacks them (the answering code always writes both).
                raise _NotPlain("the candidate's instance answered with a malformed exception")
            type_name, message = _short(raised["type"], 80), _short(raised.get("msg", ""), 300)
            # A built-in exception is raised as itself, so that a test's `except ValueError`
            # works; the candidate's own classes (and exits) as `_Raised`.
            builtin = _BUILTIN_EXCEPTIONS.get(type_name)
            if builtin is not None:
                raise builtin(message)
            own = self.exceptions.get(type_name)
            raise (own(message) if own is not None else _Raised(type_name, message))
        return reply

    @staticmethod
    def argument(value):
        def handle_of(other):
            if type(other) is _Handle:
                return {"$handle": [object.__getattribute__(other, "_ref"), ""]}
            raise _NotPlain("cannot pass a " + type(other).__name__[:60] + " to the candidate's code")

        return _Tags.plain(value, handle_of)

    def call(self, target, args, kwargs):
        fields = dict(target, op="call", args=[self.argument(a) for a in args])
        fields["kwargs"] = {k: self.argument(v) for k, v in kwargs.items()}
        reply = self.exchange(fields)
        # Arguments the call changed are changed here the same way (a test may check an
        # in-place update, or that its input was left alone).
        changed = reply.get("args")
        if type(changed) is dict:
            for key, new in changed.items():
                if type(key) is str and key.isdigit() and int(key) < len(args):
                    _update_in_place(args[int(key)], new)
        same = reply.get("arg")
        if type(same) is int and 0 <= same < len(args) and type(args[same]) in _MUTABLE:
            return args[same]
        return reply.get("value")


# Argument types a call can change in place.
_MUTABLE = (list, dict, set, bytearray)


def _update_in_place(original, new):
    # Left alone where the call did not change it, so that objects inside keep their identity.
    t = type(original)
    if t is not type(new) or t not in _MUTABLE or original == new:
        return
    if t is list or t is bytearray:
        original[:] = new
    else:
        original.clear()
        original.update(new)


class _Callable:
    """A name the candidate's code defines (a function or a class)."""

    __slots__ = ("_remote", "_name")

    def __init__(self, remote, name):
        self._remote, self._name = remote, name

    def __call__(self, *args, **kwargs):
        return self._remote.call({"name": self._name}, args, kwargs)

    def __repr__(self):
        return "<candidate's " + self._name + ">"


class _Handle:
    """An object that stays in the candidate's instance. Attribute reads, writes and calls are
    forwarded; comparisons are by identity (an `__eq__` of the candidate's never sees the
    tests' values)."""

    __slots__ = ("_remote", "_ref", "_type")

    def __init__(self, remote, ref, type_name):
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, attr):
        # Protocol hooks (`__deepcopy__`, `__array__`, ...) are looked up this way by library
        # code of the tests' side, which would then hand them the tests' own objects.
        if attr.startswith("__"):
            raise AttributeError(attr)
        remote = object.__getattribute__(self, "_remote")
        return remote.request({"op": "getattr", "handle": object.__getattribute__(self, "_ref"), "attr": attr})

    def __setattr__(self, attr, value):
        remote = object.__getattribute__(self, "_remote")
        ref = object.__getattribute__(self, "_ref")
        remote.request({"op": "setattr", "handle": ref, "attr": attr, "value": remote.argument(value)})

    def __call__(self, *args, **kwargs):
        remote = object.__getattribute__(self, "_remote")
        return remote.call({"handle": object.__getattribute__(self, "_ref")}, args, kwargs)

    def __iter__(self):
        # Iterating one of the candidate's iterables (a generator, `map`, its own class)
        # iterates it there, item by item, as plain values: `list(candidate(x))` holds for code
        # that returns a generator.
        remote = object.__getattribute__(self, "_remote")
        ref = object.__getattribute__(self, "_ref")
        start = remote.request({"op": "getattr", "handle": ref, "attr": "__iter__"})
        if type(start) is not _Handle:
            raise TypeError("the candidate's " + str(object.__getattribute__(self, "_type")) + " is not iterable")
        iterator = start()
        step = remote.request({"op": "getattr", "handle": object.__getattribute__(iterator, "_ref"), "attr": "__next__"}) if type(iterator) is _Handle else None
        if type(step) is not _Handle:
            raise TypeError("the candidate's iterator has no __next__")

        def items():
            while True:
                try:
                    item = step()
                except _Raised as error:
                    # Only here is the candidate's `StopIteration` the end of something (it
                    # crosses as `_Raised`, so that elsewhere it cannot end a loop of the tests').
                    if error.type_name == "StopIteration":
                        return
                    raise
                yield item

        return items()

    def __repr__(self):
        return "<" + str(object.__getattribute__(self, "_type")) + " object of the candidate's>"


def _short(text, limit=160):
    try:
        text = str(text)
    except BaseException:
        text = "(unreadable)"
    return text if len(text) <= limit else text[: limit - 20] + "..." + text[-17:]


def _calls_check(statement):
    return (
        isinstance(statement, _ast.Expr)
        and isinstance(statement.value, _ast.Call)
        and isinstance(statement.value.func, _ast.Name)
        and statement.value.func.id == "check"
    )


def _test_units(tree):
    # HumanEval style: the body of `check(candidate)`; MBPP style: top-level statements.
    for statement in tree.body:
        if isinstance(statement, _ast.FunctionDef) and statement.name == "check" and statement.args.args:
            # A top-level `check(...)` call is the run of the tests we run ourselves (test code
            # written to be run as a script); kept in the set-up, it failed every candidate.
            setup = [s for s in tree.body if s is not statement and not _calls_check(s)]
            return setup, statement.body, statement.args.args[0].arg
    return [], tree.body, None


def _is_test(statement, asserting_functions):
    # A test is an `assert`, a compound statement holding one, or a statement that calls a
    # function of the test code that asserts. A definition is never a test by itself: defining a
    # function that asserts passes nothing.
    if isinstance(statement, _ast.Assert):
        return True
    if isinstance(statement, (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef, _ast.Import, _ast.ImportFrom)):
        return False
    simple = isinstance(statement, (_ast.Expr, _ast.Assign))
    if simple and not asserting_functions:
        return False  # walking big literals is slow, and they hold no assert
    for node in _ast.walk(statement):
        if not simple and isinstance(node, _ast.Assert):
            return True
        if isinstance(node, _ast.Call) and isinstance(node.func, _ast.Name) and node.func.id in asserting_functions:
            return True
    return False


def _instrument(units, lines):
    # One module for all tests, compiled once: every test statement becomes
    #   try: <statement>; __h_pass(i)
    #   except BaseException as __h_e: __h_fail(i, __h_e)
    # and `assert L op R` first evaluates L and R, so a failure can say what they were.
    # Only the nodes made here get locations (walking big literal-laden tests is slow).
    ast = _ast

    def made(node, ref):
        node.lineno, node.col_offset = ref.lineno, ref.col_offset
        node.end_lineno, node.end_col_offset = ref.end_lineno, ref.end_col_offset
        return node

    def name(text, ref, store=False):
        return made(ast.Name(text, ast.Store() if store else ast.Load()), ref)

    def call(function, args, ref):
        return made(ast.Expr(made(ast.Call(name(function, ref), args, []), ref)), ref)

    asserting = {
        s.name
        for s in units
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(isinstance(n, ast.Assert) for n in ast.walk(s))
    }
    body, names, index = [], [], 0
    for statement in units:
        if not _is_test(statement, asserting):
            body.append(statement)
            continue
        first = lines[statement.lineno - 1].strip() if statement.lineno <= len(lines) else "?"
        names.append(_short(first + (" ..." if statement.end_lineno != statement.lineno else ""), 200))
        test = statement.test if isinstance(statement, ast.Assert) else None
        ref = statement
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            compare = made(ast.Compare(name("__h_l", ref), test.ops, [name("__h_r", ref)]), ref)
            inner = [
                made(ast.Assign([name("__h_l", ref, True)], test.left), ref),
                made(ast.Assign([name("__h_r", ref, True)], test.comparators[0]), ref),
                made(
                    ast.If(
                        made(ast.UnaryOp(ast.Not(), compare), ref),
                        [call("__h_wrong", [name("__h_l", ref), name("__h_r", ref)], ref)],
                        [],
                    ),
                    ref,
                ),
            ]
        else:
            inner = [statement]
        handler = made(
            ast.ExceptHandler(
                name("BaseException", ref),
                "__h_e",
                [call("__h_fail", [made(ast.Constant(index), ref), name("__h_e", ref)], ref)],
            ),
            ref,
        )
        passed = call("__h_pass", [made(ast.Constant(index), ref)], ref)
        body.append(made(ast.Try(inner + [passed], [handler], [], []), ref))
        index += 1
    return compile(ast.Module(body, type_ignores=[]), "<test>", "exec"), names


def _prepare_tests(config):
    # Everything about the tests that does not depend on the candidate: parsed, instrumented and
    # compiled once per task. The host keeps it (marshalled) for the task's later samples.
    source = config["test_code"]
    tree = _ast.parse(source)
    setup, units, parameter = _test_units(tree)
    setup_code = compile(_ast.Module(setup, type_ignores=[]), "<test>", "exec")
    test_code, names = _instrument(units, source.splitlines())
    prefix_code = None
    if config.get("prefix"):
        prefix_code = _compile_prefix(config["prefix"])
    return setup_code, test_code, names, parameter, prefix_code


def _compile_prefix(prefix):
    # The task's prompt, whose names the tests trust over the candidate's. A prompt that ends in
    # a header with no body yet (`def f(x):`, `class Solution:` ...) gets `pass` for one; one
    # that still does not compile is the task's error, not a licence for the candidate to
    # replace its helpers.
    try:
        return compile(prefix, "<prefix>", "exec")
    except SyntaxError:
        pass
    lines = [line for line in prefix.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    indent = last[: len(last) - len(last.lstrip())]
    return compile(prefix.rstrip() + "\n" + indent + "    pass\n", "<prefix>", "exec")


def _failure(error):
    # A test's failure as record fields. A failure of the candidate's instance is a limit or an
    # exit of the candidate's; everything else an exception (the candidate's, or the tests').
    t = type(error)
    if t is _PeerFailed:
        return {"v": "ended", "why": _short(error, 200)}
    if t is _Wrong or t is _NotPlain:
        return {"v": "fail", "msg": _short(error, 300)}
    if t is AssertionError:
        return {"v": "fail", "msg": _short(error)}
    if t is _Raised:
        return {"v": "error", "type": error.type_name, "msg": _short(error.message, 300)}
    return {"v": "error", "type": t.__name__[:80], "msg": _short(error, 300)}


_BUILTIN_NAMES = frozenset(vars(_builtins))


def _loaded_names(answer):
    # The load answer, checked: {"names": {str: str}}, or {"failed": {...}} raised as the
    # candidate's exception. Anything else is nonsense from the candidate's instance.
    if type(answer) is not dict:
        raise _NotPlain("the candidate's instance answered the load with no object")
    failed = answer.get("failed")
    if failed is not None:
        failed = failed if type(failed) is dict else {}
        raise _Raised(_short(failed.get("type", "?"), 80), _short(failed.get("msg", ""), 300))
    names = answer.get("names")
    if type(names) is not dict or not all(type(k) is str and type(v) is str for k, v in names.items()):
        raise _NotPlain("the candidate's instance answered the load with no names")
    return names


_MAX_CANDIDATE_NAMES = 10_000


def _bind_candidate_names(namespace, candidate_names, remote):
    # Proxies for the names the candidate's code defines. Any failure here is the candidate's
    # (the caller makes it a load error): odd names, too many, memory.
    if len(candidate_names) > _MAX_CANDIDATE_NAMES:
        raise _NotPlain("the candidate's code defines more than 10,000 names")
    for name, kind in candidate_names.items():
        # A candidate's `range`, `abs` or `tuple` would replace the built-in in the tests: the
        # tests keep their own built-ins (the entry point is bound later whatever its name).
        if not name.isidentifier() or name.startswith("__") or name in _BUILTIN_NAMES:
            continue
        if kind == "callable":
            namespace[name] = _Callable(remote, name)
        elif kind == "exception":
            namespace[name] = remote.exceptions[name] = type(name, (Exception,), {})
        elif kind.startswith("module:"):
            # The tests get the module itself, imported here (MBPP uses the solution's `import sys`).
            try:
                module = kind[len("module:"):]
                __import__(module)
                namespace[name] = _sys.modules[module]
            except Exception:
                pass


def _trusted_assert(config, emit):
    import sandbox_peer

    prepared = config.get("prepared")
    try:
        if prepared:
            setup_code, test_code, names, parameter, prefix_code = _marshal.loads(bytes.fromhex(prepared))
        else:
            parts = _prepare_tests(config)
            setup_code, test_code, names, parameter, prefix_code = parts
            if config.get("want_prepared"):
                emit({"k": "prepared", "hex": _marshal.dumps(parts).hex(), "names": names})
    except BaseException as error:
        emit({"k": "harness_error", "msg": "the test code or the task's prefix does not compile: " + _short(error, 300)})
        return
    emit({"k": "plan", "n": len(names)} if prepared else {"k": "plan", "n": len(names), "names": names})

    remote = _Remote(sandbox_peer)
    try:
        candidate_names = _loaded_names(remote.request({"op": "load"}))
    except BaseException as error:
        # The candidate's instance died while loading its code (a limit, an exit), its code
        # failed to load, or it answered nonsense: every test fails so.
        kind = "syntax_error" if type(error) is _Raised and error.type_name in _SYNTAX_ERRORS else "load_error"
        emit(dict({"k": kind}, **_failure(error)))
        return

    namespace = {"__name__": "__test__"}
    try:
        _bind_candidate_names(namespace, candidate_names, remote)
    except BaseException as error:
        emit(dict({"k": "load_error"}, **_failure(error)))
        return
    # Names the task itself defines
    # (the prompt's helpers) are trusted and win over the candidate's: a candidate must not
    # pass by redefining `encode_cyclic` beside `decode_cyclic`.
    if prefix_code is not None:
        trusted = {"__name__": "__prefix__"}
        try:
            exec(prefix_code, trusted)
        except BaseException:
            trusted = {}
        for name, value in trusted.items():
            if not name.startswith("__"):
                namespace[name] = value
                if name in remote.exceptions and isinstance(value, type) and issubclass(value, BaseException):
                    # The prompt's own exception class: the candidate's raise of that name is
                    # raised here as it, so the tests' `except` catches it.
                    remote.exceptions[name] = value
    entry_point = config["entry_point"]
    if candidate_names.get(entry_point) != "callable":
        emit({"k": "load_error", "v": "error", "type": "NameError", "msg": "no function named " + _short(entry_point, 80)})
        return
    candidate = _Callable(remote, entry_point)
    namespace[entry_point] = candidate
    if parameter is not None:
        namespace[parameter] = candidate
    def failure(error):
        # A test's failure; the candidate's instance having ended decides it whatever else
        # was raised.
        return _failure(_PeerFailed(remote.ended) if remote.ended is not None else error)

    try:
        exec(setup_code, namespace)
    except BaseException as error:
        # The set-up (the test code's statements before its tests) uses names the candidate
        # defines (`s = Solution()`), so its failure is charged to the candidate, as the first
        # test's: which failures are the task's own cannot be told apart safely, and an `error`
        # a candidate could cause is a sample the trainer drops.
        emit(dict({"k": "test", "i": 0}, **failure(error)))
        return

    # The next test, and the calls made before it began: the load request and the set-up's
    # calls are no test's (a first test of `assert True` made no call and earns nothing).
    progress = [0, remote.calls]

    def passed(index):
        if remote.ended is not None:
            emit(dict({"k": "test", "i": index}, **failure(None)))
        else:
            # A test that made no call into the candidate's code tests nothing (`assert
            # True`): it earns no credit.
            emit({"k": "test", "i": index, "v": "pass" if remote.calls > progress[1] else "neutral"})
        progress[0], progress[1] = index + 1, remote.calls

    def wrong(got, expected):
        raise _Wrong("expected " + _short(repr(expected)) + ", got " + _short(repr(got)))

    def failed(index, error):
        if type(error) is _Stop:
            raise error
        record = dict({"k": "test", "i": index}, **failure(error))
        if record["v"] == "fail" and type(error) is AssertionError and not record["msg"]:
            record["msg"] = "assertion failed: " + names[index]
        emit(record)
        progress[0], progress[1] = index + 1, remote.calls
        if config["early_stop"]:
            raise _Stop()

    namespace["__h_pass"], namespace["__h_fail"], namespace["__h_wrong"] = passed, failed, wrong
    try:
        exec(test_code, namespace)
    except _Stop:
        pass
    except BaseException as error:
        # A statement outside the tests failed: the next test fails with its error, or, after
        # the last test, the run fails as a whole.
        if progress[0] < len(names):
            emit(dict({"k": "test", "i": progress[0]}, **failure(error)))
        else:
            emit(dict({"k": "trailing_error"}, **failure(error)))
