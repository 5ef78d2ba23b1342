"""Sync and asyncio clients for `verifier serve` (`POST /v1/grade`).

Behaviour mirrors the Rust client in `rollout-worker/src/reward/http.rs`:

* A call's samples are cut into chunks (at most `batch_size` each, and at least one per endpoint),
  sent concurrently. Results come back in input order. A GRPO group (the samples with one
  `group_id`) is never cut: the server computes group rewards over a request's whole group, so
  a chunk holds every sample of each group it has (a group larger than `batch_size` is a chunk
  of its own).
* A chunk that fails (connection refused, reset or timed out, a 5xx or 429, an unreadable answer
  or one with the wrong number of results) is retried on the next endpoint in round-robin order
  after a back-off: the server's `Retry-After` when it gives one (up to `max_retry_after`), else
  exponential from `initial_backoff` to `max_backoff`. An endpoint that dies loses no sample.
  After `max_attempts` failed tries the call raises `VerifierUnavailable`; it never makes up a
  reward.
* An endpoint that could not be reached is passed over for `cool_down` seconds (unless every
  endpoint is), so a dead one costs one failed attempt per cool-down, not one per chunk.

Two differences from the Rust client, both on purpose: a `413` (batch too large for the server)
splits the chunk in halves (between groups) instead of retrying it whole, and another 4xx (a
request the server will refuse everywhere) raises `VerifierRequestError` at once.

Connections are HTTP/1.1 keep-alive, one per request in flight, reused afterwards. Clients are
picklable: the configuration travels, connections and threads do not (they are made again, lazily,
on first use after unpickling).
"""

from __future__ import annotations

import asyncio
import email.utils
import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from verifier_client._convert import completion_text

DEFAULT_URL = "http://127.0.0.1:8080"
GRADE_PATH = "/v1/grade"
FAILED_STATUSES = ("error", "timeout")

__all__ = [
    "AsyncClient",
    "Client",
    "Result",
    "VerifierError",
    "VerifierRequestError",
    "VerifierUnavailable",
    "endpoints_from_env",
]


class VerifierError(Exception):
    """Base class of this package's errors."""


class VerifierUnavailable(VerifierError):
    """No endpoint answered a chunk of samples after every attempt. `attempts` lists why each
    try failed, in order."""

    def __init__(self, message: str, attempts: Sequence[str] = ()):
        super().__init__(message)
        self.attempts = list(attempts)


class VerifierRequestError(VerifierError):
    """The service refused the request itself (a 4xx other than 429): retrying elsewhere would
    not help. `status` is the HTTP status, `message` the service's `error` text."""

    def __init__(self, status: int, message: str, url: str):
        super().__init__(f"{url}: HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.url = url


@dataclass(frozen=True)
class Result:
    """One sample's result, as the service answered it (`raw` holds the whole object)."""

    reward: float
    status: str
    error: str | None = None
    id: Any = None
    components: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    cached: bool = False
    elapsed_us: int = 0
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict) -> "Result":
        if not isinstance(obj, dict) or "reward" not in obj or "status" not in obj:
            raise ValueError(f"not a grading result: {str(obj)[:200]}")
        return cls(
            reward=float(obj["reward"]),
            status=str(obj["status"]),
            error=obj.get("error"),
            id=obj.get("id"),
            components=list(obj.get("components") or []),
            details=dict(obj.get("details") or {}),
            cached=bool(obj.get("cached", False)),
            elapsed_us=int(obj.get("elapsed_us") or 0),
            raw=obj,
        )

    @property
    def ok(self) -> bool:
        """False for `error` and `timeout`: the sample was not graded."""
        return self.status not in FAILED_STATUSES

    @property
    def training_reward(self) -> float | None:
        """The reward, or None for `error`/`timeout` (TRL leaves None out of the group's
        statistics); never a made-up 0.0."""
        return self.reward if self.ok else None


def endpoints_from_env(default: str | None = DEFAULT_URL) -> list[str]:
    """`$VERIFIER_URL` split on commas; `default` when it is unset or empty."""
    value = os.environ.get("VERIFIER_URL", "").strip()
    if value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return [default] if default else []


@dataclass(frozen=True)
class _Endpoint:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # the grading route, with any base path in front

    @classmethod
    def parse(cls, url: str) -> "_Endpoint":
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        base = parts.path.rstrip("/")
        return cls(url.rstrip("/"), parts.scheme, parts.hostname, port, base + GRADE_PATH)


class _Retry(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class _Split(Exception):
    """The server said the chunk is too large (413)."""


# What a dead, dying or stalled endpoint looks like from here.
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, asyncio.IncompleteReadError, EOFError)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(err: BaseException) -> str:
    if isinstance(err, (socket.timeout, asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}" if text != type(err).__name__ else text


def _prepare(sample: Any, index: int) -> bytes:
    """One sample as JSON bytes; a chat-message-list completion becomes its last assistant
    message's text (the service takes a string)."""
    if not isinstance(sample, dict):
        raise TypeError(f"samples[{index}]: a sample is a dict, got {type(sample).__name__}")
    completion = sample.get("completion")
    if completion is not None and not isinstance(completion, str):
        try:
            text = completion_text(completion)
        except ValueError as e:
            raise ValueError(f"samples[{index}]: {e}") from None
        sample = {**sample, "completion": text}
    try:
        return json.dumps(sample, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValueError(f"samples[{index}]: cannot be sent as JSON: {e}") from None


class _Base:
    """Configuration and the endpoint-choice state shared by both clients."""

    def __init__(
        self,
        endpoints: str | Iterable[str] | None = None,
        *,
        timeout: float = 60.0,
        batch_size: int = 1024,
        max_attempts: int = 8,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        max_retry_after: float = 60.0,
        cool_down: float = 10.0,
        max_in_flight: int | None = None,
        headers: dict | None = None,
    ):
        if endpoints is None:
            urls = endpoints_from_env()
        elif isinstance(endpoints, str):
            urls = [u.strip() for u in endpoints.split(",") if u.strip()]
        else:
            urls = [str(u).strip() for u in endpoints if str(u).strip()]
        if not urls:
            raise ValueError("no verifier endpoint given (pass endpoints= or set $VERIFIER_URL)")
        if batch_size < 1 or max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._config = dict(
            endpoints=urls,
            timeout=float(timeout),
            batch_size=int(batch_size),
            max_attempts=int(max_attempts),
            initial_backoff=float(initial_backoff),
            max_backoff=float(max_backoff),
            max_retry_after=float(max_retry_after),
            cool_down=float(cool_down),
            max_in_flight=int(max_in_flight or 2 * len(urls)),
            headers=dict(headers or {}),
        )
        self._apply_config()
        self._next = random.randrange(len(self._endpoints))
        self._init_runtime()

    def _apply_config(self) -> None:
        c = self._config
        self._endpoints = [_Endpoint.parse(u) for u in c["endpoints"]]
        self.timeout = c["timeout"]
        self.batch_size = c["batch_size"]
        self.max_attempts = c["max_attempts"]
        self.initial_backoff = c["initial_backoff"]
        self.max_backoff = c["max_backoff"]
        self.max_retry_after = c["max_retry_after"]
        self.cool_down = c["cool_down"]
        self.max_in_flight = c["max_in_flight"]
        self.headers = c["headers"]

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._down_until = [0.0] * len(self._endpoints)
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        """In a forked child (a DataLoader worker, a multiprocessing pool), the parent's
        connections, threads and locks are not ours to use: start afresh. Inherited sockets are
        dropped, not shut down, so the parent's connections stay as they were."""
        if self._pid != os.getpid():
            self._init_runtime()

    @property
    def endpoints(self) -> list[str]:
        return [e.url for e in self._endpoints]

    def config(self) -> dict:
        """The keyword arguments this client was made with."""
        return dict(self._config, headers=dict(self._config["headers"]))

    # Pickling: the configuration and the round-robin position; connections, locks and threads
    # are made again lazily.
    def __getstate__(self) -> dict:
        return {"config": self._config, "next": self._next}

    def __setstate__(self, state: dict) -> None:
        self._config = state["config"]
        self._next = state["next"]
        self._apply_config()
        self._init_runtime()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.endpoints)})"

    def _pick(self) -> int:
        """The next endpoint in round-robin order that is not cooling down (any, if all are)."""
        n = len(self._endpoints)
        now = time.monotonic()
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % n
            for k in range(n):
                i = (start + k) % n
                if self._down_until[i] <= now:
                    return i
        return start

    def _mark_down(self, i: int) -> None:
        with self._lock:
            self._down_until[i] = time.monotonic() + self.cool_down

    def _chunks(self, samples: Sequence[dict]) -> list[list[list[int]]]:
        """The call's samples as chunks of units, each unit the indices of one group's samples
        (in input order) or of one sample without a `group_id`; a chunk is at most `batch_size`
        samples unless one group alone is more."""
        units: list[list[int]] = []
        unit_of: dict[str, int] = {}
        for i, sample in enumerate(samples):
            group = sample.get("group_id")
            if group is None:
                units.append([i])
                continue
            # As the service reads it: JSON, whose object keys are strings (a dict with int and
            # str keys would not sort as it is).
            key = json.dumps(json.loads(json.dumps(group)), sort_keys=True)
            if key in unit_of:
                units[unit_of[key]].append(i)
            else:
                unit_of[key] = len(units)
                units.append([i])
        per_endpoint = -(-len(samples) // len(self._endpoints))
        size = max(1, min(self.batch_size, per_endpoint))
        chunks: list[list[list[int]]] = []
        current: list[list[int]] = []
        count = 0
        for unit in units:
            if current and count + len(unit) > size:
                chunks.append(current)
                current, count = [], 0
            current.append(unit)
            count += len(unit)
        if current:
            chunks.append(current)
        return chunks

    def _request_head(self, ep: _Endpoint, length: int) -> dict:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Content-Length": str(length),
        }
        headers.update(self.headers)
        return headers

    def _judge(self, ep: _Endpoint, status: int, headers: dict, data: bytes, n: int) -> list[Result]:
        """Results from one answer, or the exception that says what to do next."""
        if status == 200:
            try:
                results = json.loads(data)["results"]
                if not isinstance(results, list):
                    raise ValueError("`results` is not a list")
                parsed = [Result.from_json(r) for r in results]
            except (ValueError, KeyError, TypeError) as e:
                raise _Retry(f"{ep.url}: unreadable answer: {e}") from None
            if len(parsed) != n:
                raise _Retry(f"{ep.url}: {len(parsed)} results for {n} samples")
            return parsed
        try:
            message = str(json.loads(data).get("error") or "")
        except (ValueError, AttributeError):
            message = data[:300].decode("utf-8", "replace")
        if status == 413:
            raise _Split(f"{ep.url}: HTTP 413: {message}")
        if status == 429 or status >= 500:
            retry_after = _parse_retry_after(headers.get("retry-after"))
            raise _Retry(f"{ep.url}: HTTP {status}: {message}", retry_after=retry_after)
        raise VerifierRequestError(status, message, ep.url)

    def _wait(self, failure: _Retry, backoff: float) -> float:
        if failure.retry_after is not None:
            return min(failure.retry_after, self.max_retry_after)
        return min(backoff, self.max_backoff)

    def _unavailable(self, n: int, errors: list[str]) -> VerifierUnavailable:
        return VerifierUnavailable(
            f"no verifier answered a chunk of {n} samples after {self.max_attempts} attempts: "
            + "; ".join(errors),
            errors,
        )


def _body(encoded: Sequence[bytes]) -> bytes:
    return b'{"samples":[' + b",".join(encoded) + b"]}"


def _units_of(encoded: Sequence[bytes], chunk: list[list[int]]) -> list[list[bytes]]:
    return [[encoded[i] for i in unit] for unit in chunk]


def _in_input_order(chunks: list[list[list[int]]], answers: list[list[Result]]) -> list[Result]:
    """Each chunk's results (in the order its units were sent) put back at their samples'
    places."""
    n = sum(len(unit) for chunk in chunks for unit in chunk)
    results: list[Result | None] = [None] * n
    for chunk, answer in zip(chunks, answers):
        order = [i for unit in chunk for i in unit]
        for i, result in zip(order, answer):
            results[i] = result
    return results  # type: ignore[return-value]


def _halves(units: list[list[bytes]], split: Exception, url: str):
    """A chunk the server found too large (413), cut in two between units, about half its
    samples each; one unit (one sample, or one group, which must not be cut) cannot be."""
    if len(units) == 1:
        if len(units[0]) == 1:
            raise VerifierRequestError(413, str(split), url) from None
        raise VerifierRequestError(
            413,
            f"{split}; a group of {len(units[0])} samples (one group_id) is graded in one "
            "request, so the server must take at least that many (its --max-batch)",
            url,
        ) from None
    total = sum(len(unit) for unit in units)
    cut, count = 1, len(units[0])
    while cut < len(units) - 1 and count + len(units[cut]) <= total // 2:
        count += len(units[cut])
        cut += 1
    return units[:cut], units[cut:]


class _Tries:
    """The attempts at one chunk, shared by both clients (they differ only in how they post and
    sleep): each attempt's endpoint and the wait before it, the failures seen, and the error
    when none is left."""

    def __init__(self, client: _Base, size: int):
        self.client, self.size = client, size
        self.backoff = client.initial_backoff
        self.errors: list[str] = []
        self.wait = 0.0

    def __iter__(self):
        """Yields, per attempt, the seconds to wait before it (0 for the first)."""
        for attempt in range(self.client.max_attempts):
            wait, self.wait = (self.wait if attempt else 0.0), 0.0
            if attempt:
                self.backoff = min(self.backoff * 2, self.client.max_backoff)
            yield wait

    def pick(self) -> tuple[int, _Endpoint]:
        """The endpoint of this attempt, chosen after the wait (one may have come back)."""
        i = self.client._pick()
        return i, self.client._endpoints[i]

    def refused(self, failure: _Retry) -> None:
        """The endpoint answered but asked for a retry (5xx, 429, a wrong result count)."""
        self.errors.append(str(failure))
        self.wait = self.client._wait(failure, self.backoff)

    def unreachable(self, i: int, ep: _Endpoint, err: BaseException) -> None:
        """The endpoint could not be reached or hung up: it is skipped for a while."""
        self.client._mark_down(i)
        self.errors.append(f"{ep.url}: {_describe(err)}")
        self.wait = min(self.backoff, self.client.max_backoff)

    def exhausted(self) -> VerifierUnavailable:
        return self.client._unavailable(self.size, self.errors)


class Client(_Base):
    """Blocking client; thread-safe. `grade()` takes sample dicts (the service's wire format) and
    returns one `Result` per sample, in order.

    Endpoints: `endpoints=` (a list, or a comma-separated string), else `$VERIFIER_URL`, else
    `http://127.0.0.1:8080`. `timeout` is how long one request may wait for its answer."""

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._idle: list[list[http.client.HTTPConnection]] = [[] for _ in self._endpoints]
        self._executor: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pid != os.getpid():
            return  # a forked child's copy: the connections are the parent's
        with self._lock:
            idle, self._idle = self._idle, [[] for _ in self._endpoints]
            executor, self._executor = self._executor, None
        for conns in idle:
            for conn in conns:
                conn.close()
        if executor is not None:
            executor.shutdown(wait=False)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def grade(self, samples: Sequence[dict]) -> list[Result]:
        self._after_fork()
        encoded = [_prepare(s, i) for i, s in enumerate(samples)]
        if not encoded:
            return []
        chunks = self._chunks(samples)
        if len(chunks) == 1:
            return _in_input_order(chunks, [self._grade_units(_units_of(encoded, chunks[0]))])
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.max_in_flight, thread_name_prefix="verifier-client"
                )
            executor = self._executor
        futures = [
            executor.submit(self._grade_units, _units_of(encoded, chunk)) for chunk in chunks
        ]
        return _in_input_order(chunks, [future.result() for future in futures])

    def grade_one(self, sample: dict) -> Result:
        return self.grade([sample])[0]

    def _grade_units(self, units: list[list[bytes]]) -> list[Result]:
        encoded = [sample for unit in units for sample in unit]
        body = _body(encoded)
        tries = _Tries(self, len(encoded))
        for wait in tries:
            if wait:
                time.sleep(wait)
            i, ep = tries.pick()
            try:
                status, headers, data = self._post(i, body)
                return self._judge(ep, status, headers, data, len(encoded))
            except _Split as split:
                first, second = _halves(units, split, ep.url)
                return self._grade_units(first) + self._grade_units(second)
            except _Retry as failure:
                tries.refused(failure)
            except _TRANSPORT_ERRORS as err:
                tries.unreachable(i, ep, err)
        raise tries.exhausted()

    def _connect(self, ep: _Endpoint) -> http.client.HTTPConnection:
        if ep.scheme == "https":
            return http.client.HTTPSConnection(ep.host, ep.port, timeout=self.timeout)
        return http.client.HTTPConnection(ep.host, ep.port, timeout=self.timeout)

    def _post(self, i: int, body: bytes) -> tuple[int, dict, bytes]:
        ep = self._endpoints[i]
        with self._lock:
            conn = self._idle[i].pop() if self._idle[i] else None
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(ep)
            try:
                conn.request("POST", ep.path, body, self._request_head(ep, len(body)))
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as e:
                conn.close()
                if reused and not isinstance(e, ConnectionRefusedError):
                    # The server closed an idle keep-alive connection: try once on a fresh one.
                    conn, reused = None, False
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            headers = {k.lower(): v for k, v in response.getheaders()}
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle[i].append(conn)
            return response.status, headers, data

    def graders(self) -> dict:
        """`GET /v1/graders` of the first endpoint that answers."""
        return self._get_json("/v1/graders")

    def healthz(self) -> bool:
        """True when some endpoint answers `GET /healthz` with `{"status": "ok"}`."""
        try:
            return self._get_json("/healthz").get("status") == "ok"
        except VerifierError:
            return False

    def _get_json(self, route: str) -> dict:
        errors = []
        for ep in self._endpoints:
            conn = self._connect(ep)
            try:
                base = ep.path[: -len(GRADE_PATH)]
                conn.request("GET", base + route, headers=self.headers)
                response = conn.getresponse()
                data = response.read()
                if response.status == 200:
                    return json.loads(data)
                errors.append(f"{ep.url}: HTTP {response.status}")
            except _TRANSPORT_ERRORS + (ValueError,) as e:
                errors.append(f"{ep.url}: {_describe(e)}")
            finally:
                conn.close()
        raise VerifierUnavailable(f"no endpoint answered GET {route}: " + "; ".join(errors), errors)

    def to_async(self) -> "AsyncClient":
        """An `AsyncClient` with the same configuration."""
        return AsyncClient(**self.config())


class _AsyncConn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass


class AsyncClient(_Base):
    """asyncio client on the standard library's streams: `await client.grade(samples)`. Same
    configuration and behaviour as `Client`; `timeout` bounds each request as a whole. It may be
    used from several event loops (each gets its own connections)."""

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._pools: dict[Any, list[list[_AsyncConn]]] = {}

    def _pool(self) -> list[list[_AsyncConn]]:
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [l for l in self._pools if l.is_closed()]:
                del self._pools[other]
            pool = self._pools.get(loop)
            if pool is None:
                pool = self._pools[loop] = [[] for _ in self._endpoints]
            return pool

    async def aclose(self) -> None:
        """Closes this event loop's idle connections."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.pop(loop, None)
        for conns in pool or []:
            for conn in conns:
                conn.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def grade(self, samples: Sequence[dict]) -> list[Result]:
        self._after_fork()
        encoded = [_prepare(s, i) for i, s in enumerate(samples)]
        if not encoded:
            return []
        chunks = self._chunks(samples)
        if len(chunks) == 1:
            answer = await self._grade_units(_units_of(encoded, chunks[0]))
            return _in_input_order(chunks, [answer])
        gate = asyncio.Semaphore(self.max_in_flight)

        async def run(chunk: list[list[int]]) -> list[Result]:
            async with gate:
                return await self._grade_units(_units_of(encoded, chunk))

        answers = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return _in_input_order(chunks, list(answers))

    async def grade_one(self, sample: dict) -> Result:
        return (await self.grade([sample]))[0]

    async def _grade_units(self, units: list[list[bytes]]) -> list[Result]:
        encoded = [sample for unit in units for sample in unit]
        body = _body(encoded)
        tries = _Tries(self, len(encoded))
        for wait in tries:
            if wait:
                await asyncio.sleep(wait)
            i, ep = tries.pick()
            try:
                status, headers, data = await asyncio.wait_for(self._post(i, body), self.timeout)
                return self._judge(ep, status, headers, data, len(encoded))
            except _Split as split:
                first, second = _halves(units, split, ep.url)
                return await self._grade_units(first) + await self._grade_units(second)
            except _Retry as failure:
                tries.refused(failure)
            except (asyncio.TimeoutError,) + _TRANSPORT_ERRORS as err:
                tries.unreachable(i, ep, err)
        raise tries.exhausted()

    async def _connect(self, ep: _Endpoint) -> _AsyncConn:
        context = ssl.create_default_context() if ep.scheme == "https" else None
        reader, writer = await asyncio.open_connection(
            ep.host, ep.port, ssl=context, limit=1 << 20
        )
        return _AsyncConn(reader, writer)

    async def _post(self, i: int, body: bytes) -> tuple[int, dict, bytes]:
        ep = self._endpoints[i]
        pool = self._pool()
        conn = pool[i].pop() if pool[i] else None
        reused = conn is not None
        head = [f"POST {ep.path} HTTP/1.1", f"Host: {ep.host}:{ep.port}"]
        head += [f"{k}: {v}" for k, v in self._request_head(ep, len(body)).items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        while True:
            if conn is None:
                conn = await self._connect(ep)
            try:
                conn.writer.write(request)
                await conn.writer.drain()
                status, headers, data, keep = await _read_response(conn.reader)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError) as e:
                conn.close()
                if reused and not isinstance(e, ConnectionRefusedError):
                    conn, reused = None, False  # a stale keep-alive connection: once more
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if keep:
                pool[i].append(conn)
            else:
                conn.close()
            return status, headers, data

    def to_sync(self) -> Client:
        """A blocking `Client` with the same configuration."""
        return Client(**self.config())


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict, bytes, bool]:
    """One HTTP/1.1 response: status, lower-cased headers, body, whether the connection may be
    reused."""
    line = await reader.readline()
    if not line:
        raise EOFError("connection closed before an answer")
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise http.client.BadStatusLine(line.decode("latin-1", "replace").strip())
    status, version = int(parts[1]), parts[0]
    headers: dict = {}
    while True:
        line = await reader.readline()
        if not line:
            raise EOFError("connection closed inside the headers")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        data = b"".join(chunks)
    elif "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    else:
        data = await reader.read()
        keep = False
    return status, headers, data, keep
