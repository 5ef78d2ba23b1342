"""The sync and asyncio clients against the real `verifier serve` (and a scripted stub for 503s,
hang-ups and stalls)."""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
import time
import unittest
from unittest import mock

from _support import Service, Stub, dead_url, math_sample

import verifier_client
from verifier_client import AsyncClient, Client, VerifierRequestError, VerifierUnavailable

service: Service | None = None


def setUpModule():
    global service
    service = Service()


def tearDownModule():
    if service is not None:
        service.stop()


def mixed_samples(n: int) -> list[dict]:
    """Every third wrong, every fifth a format sample."""
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append({"id": i, "completion": "<think>\nhm\n</think>\n42", "task": {"kind": "format", "style": "r1"}})
        else:
            out.append(math_sample(i, right=i % 3 != 0))
    return out


def expected_status(i: int) -> str:
    if i % 5 == 4:
        return "correct"
    return "incorrect" if i % 3 == 0 else "correct"


def grouped_samples(groups: int, size: int, others: int = 1) -> list[dict]:
    """`groups` GRPO groups of `size` completions of growing length (Kimi's length reward
    compares them), each followed by `others` samples without a group."""
    out = []
    for g in range(groups):
        for k in range(size):
            out.append({
                "id": f"g{g}/{k}",
                "group_id": f"q{g}",
                "completion": "<think>x</think>" + "word " * (10 * 2 ** k),
                "task": {"kind": "format", "style": "r1"},
                "components": [{"name": "len", "task": {"kind": "length", "style": "kimi"}}],
            })
        for j in range(others):
            out.append(math_sample(1000 * g + j))
    return out


def kimi_rewards(results) -> list:
    return [(r.id, r.raw["components"][1]["reward"], r.raw["components"][1]["details"].get("group_size"))
            for r in results if str(r.id).startswith("g")]


class SyncClientTest(unittest.TestCase):
    def assert_graded_in_order(self, results, n):
        self.assertEqual(len(results), n)
        for i, result in enumerate(results):
            self.assertEqual(result.id, i)
            self.assertEqual(result.status, expected_status(i), result)
            self.assertEqual(result.reward, 1.0 if expected_status(i) == "correct" else 0.0)

    def test_batches_come_back_in_input_order(self):
        with Client(service.url, batch_size=16) as client:
            self.assert_graded_in_order(client.grade(mixed_samples(250)), 250)
            self.assertEqual(client.grade([]), [])

    def test_chat_message_list_completion_is_graded_on_the_last_assistant_message(self):
        # The service takes a string; the client sends the last assistant message's text.
        sample = math_sample(7)
        sample["completion"] = [
            {"role": "assistant", "content": "Let me think: \\boxed{3}"},
            {"role": "tool", "content": "3 + 4 = 7"},
            {"role": "assistant", "content": [{"type": "text", "text": "So \\boxed{7}."}]},
        ]
        with Client(service.url) as client:
            result = client.grade_one(sample)
        self.assertEqual((result.status, result.details.get("extracted")), ("correct", "7"))

    def test_error_and_timeout_have_no_training_reward(self):
        with Client(service.url) as client:
            bad_gold, late, wrong = client.grade([
                {"completion": "\\boxed{1}", "task": {"kind": "math", "answer": "\\frac{"}},
                {**math_sample(1), "limits": {"timeout_ms": 0}},
                math_sample(2, right=False),
            ])
        self.assertEqual(bad_gold.status, "error")
        self.assertIn("could not be parsed", bad_gold.error)
        self.assertIsNone(bad_gold.training_reward)
        self.assertEqual(late.status, "timeout")
        self.assertIsNone(late.training_reward)
        self.assertEqual((wrong.status, wrong.training_reward), ("incorrect", 0.0))

    def test_413_splits_the_batch(self):
        small = Service("--max-batch", "8")
        try:
            with Client(small.url, batch_size=100) as client:
                self.assert_graded_in_order(client.grade(mixed_samples(50)), 50)
        finally:
            small.stop()

    def test_a_group_is_never_cut_across_requests(self):
        # The server computes a group's rewards over the request's whole group: chunks (per
        # endpoint, per batch_size, halved on 413) must keep each group whole (red team: two
        # endpoints graded an 8-member group as two groups of 4, with wrong rewards).
        samples = grouped_samples(3, 8)
        with Client(service.url, batch_size=1000) as client:
            whole = kimi_rewards(client.grade(samples))
        self.assertTrue(all(size == 8 for _, _, size in whole), whole)
        with Client([service.url, service.url], batch_size=5) as client:
            results = client.grade(samples)
        self.assertEqual([r.id for r in results], [s["id"] for s in samples])
        self.assertEqual(kimi_rewards(results), whole)
        small = Service("--max-batch", "12")
        try:
            with Client(small.url, batch_size=100) as client:
                self.assertEqual(kimi_rewards(client.grade(samples)), whole)
                with self.assertRaises(VerifierRequestError) as raised:
                    client.grade(grouped_samples(1, 16))
                self.assertIn("group", str(raised.exception))
        finally:
            small.stop()

    def test_a_dead_endpoint_loses_no_sample(self):
        with Client([dead_url(), service.url], batch_size=10, initial_backoff=0.01) as client:
            self.assert_graded_in_order(client.grade(mixed_samples(200)), 200)
            # The dead endpoint is cooling down: later calls go straight to the live one.
            started = time.monotonic()
            for _ in range(5):
                self.assert_graded_in_order(client.grade(mixed_samples(20)), 20)
            self.assertLess(time.monotonic() - started, 2.0)

    def test_an_endpoint_that_hangs_up_mid_request_loses_no_sample(self):
        stub = Stub(lambda n, samples: "hangup")
        try:
            with Client([stub.url, service.url], batch_size=25, initial_backoff=0.01) as client:
                self.assert_graded_in_order(client.grade(mixed_samples(100)), 100)
            self.assertGreater(len(stub.requests), 0, "the stub was never tried")
        finally:
            stub.stop()

    def test_a_service_killed_mid_run_loses_no_sample(self):
        doomed = Service()
        killer = threading.Timer(0.3, doomed.stop)
        try:
            with Client([doomed.url, service.url], batch_size=50, initial_backoff=0.01) as client:
                killer.start()
                deadline = time.monotonic() + 1.5
                calls = 0
                while time.monotonic() < deadline:
                    self.assert_graded_in_order(client.grade(mixed_samples(400)), 400)
                    calls += 1
            self.assertIsNotNone(doomed.process.poll(), "the service was not killed during the run")
            self.assertGreater(calls, 1)
        finally:
            killer.cancel()
            doomed.stop()

    def test_every_endpoint_dead_is_a_clear_error(self):
        with Client([dead_url(), dead_url()], max_attempts=3, initial_backoff=0.01) as client:
            with self.assertRaises(VerifierUnavailable) as caught:
                client.grade([math_sample(1)])
        self.assertEqual(len(caught.exception.attempts), 3)
        self.assertIn("after 3 attempts", str(caught.exception))
        self.assertIn("Connection", str(caught.exception))

    def test_retry_after_is_honoured(self):
        stub = Stub(lambda n, samples: (503, {"Retry-After": "1"}, {"error": "queue full"}) if n == 0 else None)
        try:
            with Client(stub.url, initial_backoff=0.01) as client:
                started = time.monotonic()
                results = client.grade([math_sample(1), math_sample(2)])
                elapsed = time.monotonic() - started
            self.assertEqual([r.reward for r in results], [0.25, 0.25])
            self.assertEqual(len(stub.requests), 2)
            gap = stub.requests[1][2] - stub.requests[0][2]
            self.assertGreaterEqual(gap, 0.95, "the retry did not wait for Retry-After")
            self.assertLess(elapsed, 3.0)
        finally:
            stub.stop()

    def test_retry_after_is_capped_and_attempts_are_bounded(self):
        stub = Stub(lambda n, samples: (503, {"Retry-After": "30"}, {"error": "queue full"}))
        try:
            with Client(stub.url, max_attempts=3, max_retry_after=0.1) as client:
                started = time.monotonic()
                with self.assertRaises(VerifierUnavailable) as caught:
                    client.grade([math_sample(1)])
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertEqual(len(stub.requests), 3)
            self.assertIn("HTTP 503: queue full", str(caught.exception))
        finally:
            stub.stop()

    def test_a_refused_request_is_not_retried(self):
        stub = Stub(lambda n, samples: (400, {}, {"error": "malformed request: expected {\"samples\": [...]}"}))
        try:
            with Client(stub.url) as client:
                with self.assertRaises(VerifierRequestError) as caught:
                    client.grade([math_sample(1)])
            self.assertEqual(caught.exception.status, 400)
            self.assertIn("malformed request", caught.exception.message)
            self.assertEqual(len(stub.requests), 1)
        finally:
            stub.stop()

    def test_a_wrong_number_of_results_is_retried_not_trusted(self):
        stub = Stub(lambda n, samples: (200, {}, {"results": []}) if n == 0 else None)
        try:
            with Client(stub.url, initial_backoff=0.01) as client:
                results = client.grade([math_sample(1)])
            self.assertEqual((len(results), len(stub.requests)), (1, 2))
        finally:
            stub.stop()

    def test_requests_time_out_and_fail_over(self):
        stub = Stub(lambda n, samples: time.sleep(3))
        try:
            with Client(stub.url, timeout=0.3, max_attempts=2, initial_backoff=0.01) as client:
                started = time.monotonic()
                with self.assertRaises(VerifierUnavailable) as caught:
                    client.grade([math_sample(1)])
                self.assertLess(time.monotonic() - started, 2.0)
                self.assertIn("timed out", str(caught.exception))
            with Client([stub.url, service.url], timeout=0.3, initial_backoff=0.01) as client:
                started = time.monotonic()
                for _ in range(3):
                    self.assertEqual(client.grade_one(math_sample(3)).status, "correct")
                self.assertLess(time.monotonic() - started, 2.5)
        finally:
            stub.stop()

    def test_keep_alive_reuses_the_connection(self):
        stub = Stub()
        try:
            with Client(stub.url) as client:
                for i in range(5):
                    client.grade([math_sample(i)])
            ports = {port for port, _, _ in stub.requests}
            self.assertEqual((len(stub.requests), len(ports)), (5, 1))
        finally:
            stub.stop()

    def test_round_robin_spreads_requests(self):
        a, b = Stub(), Stub()
        try:
            with Client([a.url, b.url]) as client:
                for i in range(10):
                    client.grade([math_sample(i)])
                # One call of 40 samples is cut in one chunk per endpoint.
                client.grade([math_sample(i) for i in range(40)])
            self.assertEqual((len(a.requests), len(b.requests)), (6, 6))
            self.assertEqual(a.requests[-1][1] + b.requests[-1][1], 40)
        finally:
            a.stop()
            b.stop()

    def test_pickle_round_trip_reconnects_lazily(self):
        client = Client([dead_url(), service.url], batch_size=7, timeout=12.5)
        client.grade(mixed_samples(20))  # open connections and threads
        copy = pickle.loads(pickle.dumps(client))
        self.assertEqual(copy.config(), client.config())
        self.assertEqual(copy.endpoints, client.endpoints)
        self.assert_graded_in_order(copy.grade(mixed_samples(30)), 30)
        client.close()
        copy.close()

    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_a_forked_child_makes_its_own_connections_and_threads(self):
        client = Client(service.url, batch_size=5)
        self.assert_graded_in_order(client.grade(mixed_samples(20)), 20)  # threads, a connection
        pid = os.fork()
        if pid == 0:  # the child: the parent's worker threads do not exist here
            import signal

            signal.alarm(20)
            try:
                results = client.grade(mixed_samples(20))
                good = [r.status for r in results] == [expected_status(i) for i in range(20)]
                os._exit(0 if good else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, "the forked child could not grade")
        self.assert_graded_in_order(client.grade(mixed_samples(20)), 20)
        client.close()

    def test_endpoints_from_the_environment(self):
        with mock.patch.dict(os.environ, {"VERIFIER_URL": f" {dead_url()} , {service.url} "}):
            client = Client(initial_backoff=0.01)
            self.assertEqual(len(client.endpoints), 2)
            self.assertEqual(client.endpoints[1], service.url)
            self.assert_graded_in_order(client.grade(mixed_samples(10)), 10)
            client.close()
        with mock.patch.dict(os.environ, {"VERIFIER_URL": ""}):
            self.assertEqual(Client().endpoints, ["http://127.0.0.1:8080"])
        with self.assertRaises(ValueError):
            Client([])

    def test_bad_samples_are_refused_before_sending(self):
        with Client(service.url) as client:
            with self.assertRaisesRegex(TypeError, r"samples\[1\]"):
                client.grade([math_sample(1), "not a sample"])
            with self.assertRaisesRegex(ValueError, r"samples\[0\].*JSON"):
                client.grade([{"completion": "x", "task": {"kind": "math", "answer": float("nan")}}])

    def test_health_and_graders(self):
        with Client([dead_url(), service.url]) as client:
            self.assertTrue(client.healthz())
            kinds = {g["kind"] for g in client.graders()["graders"]}
        self.assertTrue({"math", "code", "format", "instructions"} <= kinds)
        self.assertFalse(Client(dead_url()).healthz())


class AsyncClientTest(unittest.TestCase):
    def run_async(self, coroutine):
        return asyncio.run(coroutine)

    def test_batches_in_order_and_fail_over(self):
        async def go():
            async with AsyncClient([dead_url(), service.url], batch_size=16, initial_backoff=0.01) as client:
                first = await client.grade(mixed_samples(200))
                many = await asyncio.gather(*(client.grade(mixed_samples(30)) for _ in range(10)))
                return first, many

        first, many = self.run_async(go())
        SyncClientTest.assert_graded_in_order(self, first, 200)
        for results in many:
            SyncClientTest.assert_graded_in_order(self, results, 30)

    def test_a_group_is_never_cut_across_requests(self):
        samples = grouped_samples(3, 8)

        async def go(endpoints, batch_size):
            async with AsyncClient(endpoints, batch_size=batch_size) as client:
                return await client.grade(samples)

        whole = kimi_rewards(self.run_async(go([service.url], 1000)))
        results = self.run_async(go([service.url, service.url], 5))
        self.assertEqual([r.id for r in results], [s["id"] for s in samples])
        self.assertEqual(kimi_rewards(results), whole)
        self.assertTrue(all(size == 8 for _, _, size in whole), whole)

    def test_keep_alive_and_hang_up(self):
        stub = Stub()
        hangup = Stub(lambda n, samples: "hangup")

        async def go():
            client = AsyncClient(stub.url)
            for i in range(4):
                await client.grade([math_sample(i)])
            await client.aclose()
            async with AsyncClient([hangup.url, service.url], initial_backoff=0.01, batch_size=10) as other:
                return await other.grade(mixed_samples(40))

        try:
            results = self.run_async(go())
            self.assertEqual(len({port for port, _, _ in stub.requests}), 1)
            self.assertEqual(len(stub.requests), 4)
            SyncClientTest.assert_graded_in_order(self, results, 40)
            self.assertGreater(len(hangup.requests), 0)
        finally:
            stub.stop()
            hangup.stop()

    def test_retry_after_and_timeouts(self):
        busy = Stub(lambda n, samples: (503, {"Retry-After": "1"}, {"error": "busy"}) if n == 0 else None)
        slow = Stub(lambda n, samples: time.sleep(3))

        async def go():
            async with AsyncClient(busy.url, initial_backoff=0.01) as client:
                results = await client.grade([math_sample(1)])
            stalled = AsyncClient(slow.url, timeout=0.3, max_attempts=2, initial_backoff=0.01)
            started = time.monotonic()
            try:
                await stalled.grade([math_sample(1)])
            except VerifierUnavailable as e:
                return results, e, time.monotonic() - started
            finally:
                await stalled.aclose()
            self.fail("a stalled endpoint answered")

        try:
            results, error, elapsed = self.run_async(go())
            self.assertEqual(results[0].reward, 0.25)
            self.assertGreaterEqual(busy.requests[1][2] - busy.requests[0][2], 0.95)
            self.assertIn("timed out", str(error))
            self.assertLess(elapsed, 2.0)
        finally:
            busy.stop()
            slow.stop()

    def test_pickle_and_several_event_loops(self):
        async def grade(client):
            try:
                return await client.grade(mixed_samples(12))
            finally:
                await client.aclose()

        client = AsyncClient(service.url, batch_size=5)
        first = asyncio.run(grade(client))
        second = asyncio.run(grade(client))  # a new loop: new connections
        copy = pickle.loads(pickle.dumps(client))
        third = asyncio.run(grade(copy))
        for results in (first, second, third):
            SyncClientTest.assert_graded_in_order(self, results, 12)
        self.assertEqual(copy.config(), client.config())
        self.assertIsInstance(client.to_sync(), Client)
        self.assertIsInstance(verifier_client.Client(service.url).to_async(), AsyncClient)


if __name__ == "__main__":
    unittest.main()
