# The code grader's trusted Python harness (see graders/src/code/mod.rs for the threat model).
#
# This file is baked into the Python sandbox as the module `verifier_code_harness` (see
# `PYTHON_HARNESS_MODULE`): imported when the sandbox is built, it is ready in every fresh
# instance at no cost. A run's program is a bootstrap that calls `_harness_main` with the JSON
# configuration it reads from standard input (the nonce, the candidate's code, the tests). The
# candidate's code is compiled and run by this harness, after the harness has captured
# everything it relies on.
#
# Protocol: every record is one line `<nonce> <json>` written to the real standard output. The
# nonce is fresh per run and never shown to the model. The candidate's own prints go to a sink.
# Records: plan (assert tests, before the candidate runs), syntax_error, load_error, test
# (assert mode), case (call mode), harness_error, and finally done.

# Imported and defined once, at build time. `_harness_main` copies what it uses into its own
# frame before the candidate's code exists, so rebinding these module globals later changes
# nothing for the run in progress.
import ast as _ast
import atexit as _atexit
import builtins as _builtins
import collections as _collections
import json as _json
import marshal as _marshal
import operator as _operator
import re as _re
import sys as _sys
import types as _types

try:
    from _json import encode_basestring_ascii as _quote  # C: the candidate cannot patch it
except ImportError:
    from json.encoder import py_encode_basestring_ascii as _quote


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
    sys, builtins, json, ast, atexit = _sys, _builtins, _json, _ast, _atexit
    collections, types, operator, re, marshal = _collections, _types, _operator, _re, _marshal
    quote = _quote
    NotPlain, Wrong, Stop, Sink = _NotPlain, _Wrong, _Stop, _Sink

    config = json.loads(config_text)
    nonce = config.pop("nonce")
    real_write = sys.stdout.write
    real_flush = sys.stdout.flush
    settrace, setprofile = sys.settrace, sys.setprofile
    clear_atexit = atexit._clear
    exact_type, is_instance, repr_of, length = type, isinstance, repr, len
    int_repr, float_repr = int.__repr__, float.__repr__
    base_exception = BaseException
    function_type, module_type = types.FunctionType, types.ModuleType
    dict_like = (collections.Counter, collections.OrderedDict, collections.defaultdict)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    builtins_snapshot = dict(builtins.__dict__)

    # -- records ---------------------------------------------------------------------------
    def dumps(value):
        t = exact_type(value)
        if value is None:
            return "null"
        if t is bool:
            return "true" if value else "false"
        if t is str:
            return quote(value)
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
        if t is int:
            return value if -(2**53) < value < 2**53 else {"$int": int_repr(value)}
        if t is float:
            if value != value:
                return {"$float": "nan"}
            if value in (float("inf"), float("-inf")):
                return {"$float": "inf" if value > 0 else "-inf"}
            return value
        if t is list or t is tuple:
            return [to_plain(v, depth + 1) for v in list(value)]
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

    # -- isolation of the test's world from the candidate's changes ------------------------
    module_snapshots = {}
    class_snapshots = []
    is_same, all_true = operator.is_, all

    def freeze(contents):
        return list(contents), list(contents.values())

    def protect_modules(names):
        for name in names:
            module = sys.modules.get(name)
            if module is None or name in module_snapshots:
                continue
            module_snapshots[name] = (module, dict(module.__dict__), freeze(module.__dict__))
            for value in list(module.__dict__.values()):
                # Classes written in Python (random.Random, ...) can be patched; C types cannot.
                if is_instance(value, type) and hasattr(value, "__dict__") and "__module__" in value.__dict__:
                    class_snapshots.append((value, dict(value.__dict__), freeze(value.__dict__)))

    def changed(current, snapshot):
        # By identity, not `==` (which could call an object of the candidate's); C loops only,
        # in insertion order (a reordered dict counts as changed, and is restored).
        keys, values = snapshot
        return (
            length(current) != length(keys)
            or not all_true(map(is_same, values, current.values()))
            or not all_true(map(is_same, keys, current))
        )

    def restore_world():
        settrace(None)
        setprofile(None)
        for name, (module, snapshot, frozen) in module_snapshots.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
            contents = module.__dict__
            if changed(contents, frozen):
                contents.clear()
                contents.update(snapshot)
        for cls, snapshot, frozen in class_snapshots:
            current = cls.__dict__
            if changed(current, frozen):
                for key in [k for k in list(current) if k not in snapshot]:
                    try:
                        delattr(cls, key)
                    except base_exception:
                        pass
                for key, value in snapshot.items():
                    if current.get(key, changed) is not value:
                        try:
                            setattr(cls, key, value)
                        except base_exception:
                            pass

    sink = Sink()

    def confined(action):
        sys.stdout = sys.stderr = sink
        try:
            return action()
        finally:
            restore_world()

    def describe(error):
        return {"type": exact_type(error).__name__, "msg": short(error)}

    # -- running the candidate's code ------------------------------------------------------
    candidate_globals = {"__name__": "__candidate__", "__builtins__": builtins}

    def load_candidate():
        try:
            code = compile(config["code"], "<candidate>", "exec")
        except base_exception as error:
            emit({"k": "syntax_error", "msg": short(error, 300)})
            return False

        def run():
            exec(code, candidate_globals)

        try:
            confined(run)
        except base_exception as error:
            emit(dict({"k": "load_error"}, **describe(error)))
            return False
        return True

    def guarded(function):
        def call(*args, **kwargs):
            return plain_copy(confined(lambda: function(*args, **kwargs)))

        return call

    def untag(fields):
        # Arguments use the tags of `to_plain` where JSON has no exact form: `{"$int": "digits"}`.
        # As the parser's object hook it sees only objects, so untagged arguments cost nothing.
        if length(fields) == 1 and exact_type(fields.get("$int")) is str:
            return int(fields["$int"])
        return fields

    def mode_call():
        decode = json.JSONDecoder(object_hook=untag).decode
        all_args = [decode(text) for text in config["cases"]]
        if not load_candidate():
            return
        function = candidate_globals.get(config["fn_name"])
        if exact_type(function) is not function_type:
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

    def test_units(tree):
        # HumanEval style: the body of `check(candidate)`; MBPP style: top-level statements.
        for statement in tree.body:
            if is_instance(statement, ast.FunctionDef) and statement.name == "check" and statement.args.args:
                setup = [s for s in tree.body if s is not statement]
                return setup, statement.body, statement.args.args[0].arg
        return [], tree.body, None

    def instrument(units, lines):
        # One module for all tests, compiled once: every test statement becomes
        #   try: <statement>; __h_pass(i)
        #   except BaseException as __h_e: __h_fail(i, __h_e)
        # and `assert L op R` first evaluates L and R, so a failure can say what they were.
        # Only the nodes made here get locations (walking big literal-laden tests is slow).
        def made(node, ref):
            node.lineno, node.col_offset = ref.lineno, ref.col_offset
            node.end_lineno, node.end_col_offset = ref.end_lineno, ref.end_col_offset
            return node

        def name(text, ref, store=False):
            return made(ast.Name(text, ast.Store() if store else ast.Load()), ref)

        def call(function, args, ref):
            return made(ast.Expr(made(ast.Call(name(function, ref), args, []), ref)), ref)

        body, names, index = [], [], 0
        for statement in units:
            is_test = is_instance(statement, ast.Assert) or (
                not is_instance(statement, (ast.Expr, ast.Assign, ast.Import, ast.ImportFrom))
                and any(is_instance(node, ast.Assert) for node in ast.walk(statement))
            )
            if not is_test:
                body.append(statement)
                continue
            first = lines[statement.lineno - 1].strip() if statement.lineno <= length(lines) else "?"
            names.append(short(first + (" ..." if statement.end_lineno != statement.lineno else ""), 200))
            test = statement.test if is_instance(statement, ast.Assert) else None
            ref = statement
            if is_instance(test, ast.Compare) and length(test.ops) == 1:
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

    def prepare_tests():
        # Everything about the tests that does not depend on the candidate: parsed, instrumented
        # and compiled once per task. The host keeps it (marshalled) for the task's later samples.
        source = config["test_code"]
        tree = ast.parse(source)
        setup, units, parameter = test_units(tree)
        setup_code = compile(ast.Module(setup, type_ignores=[]), "<test>", "exec")
        test_code, names = instrument(units, source.splitlines())
        imported = [m.group(2) for m in re.finditer(r"(?m)^[ \t]*(import|from)[ \t]+([\w.]+)", source)]
        prefix_code = None
        if config.get("prefix"):
            try:
                prefix_code = compile(config["prefix"], "<prefix>", "exec")
            except base_exception:
                pass  # a prompt that does not compile defines no trusted names
        return setup_code, test_code, names, parameter, imported, prefix_code

    def mode_assert():
        prepared = config.get("prepared")
        try:
            if prepared:
                setup_code, test_code, names, parameter, imported, prefix_code = marshal.loads(bytes.fromhex(prepared))
            else:
                parts = prepare_tests()
                setup_code, test_code, names, parameter, imported, prefix_code = parts
                if config.get("want_prepared"):
                    # The first record of the run, written before the candidate's code exists in
                    # this interpreter: the host accepts it only in that position.
                    emit({"k": "prepared", "hex": marshal.dumps(parts).hex(), "names": names})
        except base_exception as error:
            emit({"k": "harness_error", "msg": "the test code does not compile: " + short(error, 300)})
            return
        # Import what the tests import before the candidate runs, and keep a copy to restore.
        for name in imported:
            try:
                __import__(name)
            except base_exception:
                pass
        protect_modules(["builtins"] + imported)
        # With prepared tests the host already has their names.
        emit({"k": "plan", "n": length(names)} if prepared else {"k": "plan", "n": length(names), "names": names})

        # Names the task itself defines (the prompt's helpers) are trusted and win over the
        # candidate's: a candidate must not pass by redefining `encode_cyclic` beside `decode_cyclic`.
        trusted = {}
        if prefix_code is not None:
            try:
                trusted = {"__name__": "__prefix__", "__builtins__": builtins_snapshot}
                confined(lambda: exec(prefix_code, trusted))
            except base_exception:
                trusted = {}
        if not load_candidate():
            return
        restore_world()
        namespace = {"__builtins__": builtins_snapshot, "__name__": "__test__"}
        # The candidate's functions (wrapped), plain classes and imported modules, for tests that
        # name them (MBPP builds `Node(...)` trees, uses the solution's `import sys`).
        for name, value in list(candidate_globals.items()):
            if name in builtins_snapshot or name.startswith("__"):
                continue
            t = exact_type(value)
            if t is function_type:
                namespace[name] = guarded(value)
            elif t is type or (t is module_type and sys.modules.get(name) is value):
                namespace[name] = value
        for name, value in trusted.items():
            if not name.startswith("__"):
                namespace[name] = value
        entry_point = candidate_globals.get(config["entry_point"])
        if exact_type(entry_point) is not function_type:
            emit({"k": "load_error", "type": "NameError", "msg": "no function named " + short(config["entry_point"], 80)})
            return
        candidate = guarded(entry_point)
        namespace[config["entry_point"]] = candidate
        if parameter is not None:
            namespace[parameter] = candidate
        try:
            exec(setup_code, namespace)
        except base_exception as error:
            emit({"k": "harness_error", "msg": "the test set-up failed: " + short(error, 300)})
            return

        progress = [0]

        def passed(index):
            emit({"k": "test", "i": index, "v": "pass"})
            progress[0] = index + 1

        def wrong(got, expected):
            raise Wrong("expected " + short(repr_of(expected)) + ", got " + short(repr_of(got)))

        def failed(index, error):
            t = exact_type(error)
            if t is Stop:
                raise error
            if t is Wrong or t is NotPlain:
                emit({"k": "test", "i": index, "v": "fail", "msg": short(error, 300)})
            elif t is AssertionError:
                emit({"k": "test", "i": index, "v": "fail", "msg": short(error) or "assertion failed: " + names[index]})
            else:
                emit(dict({"k": "test", "i": index, "v": "error"}, **describe(error)))
            progress[0] = index + 1
            if config["early_stop"]:
                raise Stop()

        namespace["__h_pass"], namespace["__h_fail"], namespace["__h_wrong"] = passed, failed, wrong
        try:
            exec(test_code, namespace)
        except Stop:
            pass
        except base_exception as error:
            # A set-up statement between tests failed: the next test fails with its error.
            if progress[0] < length(names):
                emit(dict({"k": "test", "i": progress[0], "v": "error"}, **describe(error)))

    try:
        if config["mode"] == "call":
            mode_call()
        else:
            mode_assert()
    except base_exception as error:
        emit({"k": "harness_error", "msg": short(repr_of(error), 300)})
    clear_atexit()
    emit({"k": "done"})
