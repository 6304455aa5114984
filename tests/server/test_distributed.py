"""Several `flashmem serve` processes sharing session memory through a real redis-server
(--store): any process continues any session without prefilling it again, a prefill
process hands a prompt on to a decode process, concurrent use of a session is refused,
and a stopped store, a corrupt page or a killed process costs a prefill, never a wrong
answer. Needs the default model and redis-server (scripts/setup.sh); under CI=true a
missing one fails instead of skipping."""
import http.client
import json
import os
import threading
import time
import unittest

from facts_document import make_document, question
from redis_fixture import REDIS_CLI, REDIS_SERVER, Redis
from server_fixture import BINARY, MODEL, Router, Server, model_available

if not model_available() or not REDIS_SERVER or not REDIS_CLI:
    if os.environ.get("CI") == "true":
        raise SystemExit(f"test_distributed: the model, binary or redis-server is missing and CI=true")
    raise unittest.SkipTest("no model, binary or redis-server: run scripts/setup.sh")

from test_server import complete, three_turns  # noqa: E402


def cached(usage):
    return usage["prompt_tokens_details"]["cached_tokens"]


class SharedSessions(unittest.TestCase):
    """Two processes on one store, and a third with no store as the single-process reference."""

    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()
        cls.a = Server("--store", cls.redis.url).start()
        cls.b = Server("--store", cls.redis.url).start()
        cls.reference = Server().start()

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b, cls.reference):
            s.stop()
        cls.redis.close()

    def test_three_turns_alternating_between_processes(self):
        prompts, answers, usages, codes = three_turns(self.reference, seed=303, session="ref")
        # Turn 1 on a, turn 2 on b, turn 3 on a again (a's own copy is a turn behind).
        got, got_usage = {}, {}
        for turn, server in [(1, self.a), (2, self.b), (3, self.a)]:
            got[turn], got_usage[turn] = complete(server, prompts[turn], session="alternating")
        self.assertEqual(got, answers)
        for colour, turn in [("red", 1), ("blue", 2), ("green", 3)]:
            self.assertIn(codes[colour], got[turn])
        # Each turn after the first prefilled only its new text: the other process's KV came
        # from the store.
        for turn in (2, 3):
            self.assertEqual(cached(got_usage[turn]), usages[turn - 1]["prompt_tokens"] + usages[turn - 1]["completion_tokens"] - 1)
        self.assertIn("restored", self.b.log())
        self.assertGreater(len(self.redis.keys("fm1:*:page:*")), 0)

    def test_unnamed_prompt_reuses_what_another_process_stored(self):
        doc, codes = make_document(404, 90, {"red": 0.3})
        first = doc + question("red")
        a1, u1 = complete(self.a, first)
        follow = first + a1 + question("red")
        b1, u2 = complete(self.b, follow)
        self.assertEqual(cached(u2), u1["prompt_tokens"] + u1["completion_tokens"] - 1)
        r1, _ = complete(self.reference, follow)
        self.assertEqual(b1, r1)

    def test_a_session_in_use_by_another_process_is_refused(self):
        doc, _ = make_document(505, 60, {"red": 0.5})
        # a streams a long answer; once its first token is out, a holds the session's lease.
        conn = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=300)
        conn.request("POST", "/v1/completions", body=json.dumps({
            "prompt": doc + "\nTell me a long story.", "max_tokens": 300, "temperature": 0, "stream": True,
            "session": "contended"}))
        stream = conn.getresponse()
        self.assertEqual(stream.status, 200)
        line = b""
        while not line.startswith(b"data:"):
            line = stream.readline()
            self.assertNotEqual(line, b"", "the stream ended before its first token")
        status, _, body = self.b.post_json("/v1/completions", {"prompt": doc + "\nHi.", "max_tokens": 2,
                                                               "session": "contended"})
        rest = stream.read().decode()
        conn.close()
        self.assertEqual(status, 409, "b was not refused while a held the session")
        self.assertEqual(body["error"]["code"], "session_busy")
        self.assertIn("[DONE]", rest)
        # Given back when a's request is done.
        status, _, _ = self.b.post_json("/v1/completions", {"prompt": doc + "\nHi.", "max_tokens": 2, "session": "contended"})
        self.assertEqual(status, 200)


class PrefillDecodeSplit(unittest.TestCase):
    def test_prefill_on_one_process_decode_on_another(self):
        redis = Redis().start()
        try:
            with Server("--store", redis.url, "--role", "prefill") as p, Server("--store", redis.url) as d, \
                    Server() as reference:
                doc, codes = make_document(606, 150, {"red": 0.1})
                prompt = doc + question("red")
                status, _, out = p.post_json("/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0})
                self.assertEqual(status, 200, out)
                self.assertEqual(out["choices"][0]["text"], "")
                n_prompt = out["usage"]["prompt_tokens"]
                status, _, out = d.post_json("/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0,
                                                                 "stop": ["\n"], "logprobs": 5})
                answer, usage = out["choices"][0]["text"], out["usage"]
                # The decode process ran nothing of the prompt: it sampled from the logits the
                # prefill process stored with the KV.
                self.assertEqual(cached(usage), n_prompt)
                status, _, ref_out = reference.post_json("/v1/completions", {"prompt": prompt, "max_tokens": 12,
                                                                             "temperature": 0, "stop": ["\n"],
                                                                             "logprobs": 5})
                ref, ref_usage = ref_out["choices"][0]["text"], ref_out["usage"]
                self.assertEqual(cached(ref_usage), 0)
                self.assertEqual(answer, ref)
                # Logits: every generated token's log-probability and its top 5 are bit-equal to
                # the single process's (the KV goes through the store exactly, fp16 in, fp16 out).
                got_lp, ref_lp = out["choices"][0]["logprobs"], ref_out["choices"][0]["logprobs"]
                self.assertGreater(len(ref_lp["tokens"]), 2)
                self.assertEqual(got_lp, ref_lp)
                self.assertIn(codes["red"], answer)
                # The same through the router, streamed: it hands the prompt from p to d.
                with Router("--prefill", p.url(), "--decode", d.url()) as router:
                    prompt2 = prompt + answer + question("red")
                    status, _, raw = router.request("POST", "/v1/completions", {
                        "prompt": prompt2, "max_tokens": 12, "temperature": 0, "stop": ["\n"], "stream": True,
                        "stream_options": {"include_usage": True}})
                    self.assertEqual(status, 200)
                    events = [json.loads(line[6:]) for line in raw.decode().split("\n")
                              if line.startswith("data: {")]
                    routed = "".join(e["choices"][0]["text"] for e in events if e["choices"])
                    routed_usage = events[-1]["usage"]
                    self.assertEqual(routed_usage["prompt_tokens_details"]["cached_tokens"],
                                     routed_usage["prompt_tokens"])
                    ref2, _ = complete(reference, prompt2)
                    self.assertEqual(routed, ref2)
                    # A bad body is the decode server's 400, relayed once.
                    status, _, bad = router.request("POST", "/v1/completions", "{not json")
                    self.assertEqual(status, 400)
                    self.assertIn("error", json.loads(bad))
        finally:
            redis.close()


    def test_under_a_residency_policy_the_last_prompt_token_runs_on_the_decode_process(self):
        # lsa's first selection reads a prompt token's hidden state, so the prefill process
        # leaves the last one pending (docs/distributed.md); the hand-off still reuses the rest.
        redis = Redis().start()
        policy = ["--policy", "lsa", "--budget", "10%"]
        try:
            with Server("--store", redis.url, "--role", "prefill", *policy) as p, \
                    Server("--store", redis.url, *policy) as d:
                doc, _ = make_document(616, 60, {"red": 0.5})
                prompt = doc + question("red")
                status, _, out = p.post_json("/v1/completions", {"prompt": prompt, "max_tokens": 8, "temperature": 0})
                self.assertEqual((status, out["choices"][0]["text"]), (200, ""))
                _, usage = complete(d, prompt)
                self.assertEqual(cached(usage), out["usage"]["prompt_tokens"] - 1)
                self.assertGreater(usage["completion_tokens"], 0)
        finally:
            redis.close()


class StoreFaults(unittest.TestCase):
    def setUp(self):
        self.redis = Redis().start()

    def tearDown(self):
        self.redis.close()

    def test_redis_stopped_mid_request_then_back(self):
        with Server("--store", self.redis.url) as a, Server("--store", self.redis.url) as b, Server() as reference:
            prompts, answers, usages, codes = three_turns(reference, seed=707, session="ref")
            got1, _ = complete(a, prompts[1], session="s")
            results = {}

            def turn2():
                results["a"] = complete(a, prompts[2], session="s")
            t = threading.Thread(target=turn2)
            t.start()
            self.redis.stop()  # during turn 2 (or just before it): its save fails
            t.join()
            self.assertEqual(results["a"][0], answers[2])
            self.assertIn("store", a.log())
            # With the store down, b answers from the request (a full prefill), correctly.
            got3b, u3b = complete(b, prompts[3], session="s")
            self.assertEqual(got3b, answers[3])
            self.assertEqual(cached(u3b), 0)
            # a continues from its own memory.
            got3a, u3a = complete(a, prompts[3], session="s2")
            self.assertEqual(got3a, answers[3])
            # The store back (empty: no persistence): everything works again.
            self.redis.start()
            time.sleep(1.1)  # the client retries a failed connection at most once a second
            got1b, _ = complete(b, prompts[1], session="again")
            got2a, u2a = complete(a, prompts[2], session="again")
            self.assertEqual((got1b, got2a), (answers[1], answers[2]))
            self.assertGreater(cached(u2a), 0)

    def test_missing_or_corrupt_pages_cost_a_prefill_not_a_wrong_answer(self):
        with Server("--store", self.redis.url) as a, Server("--store", self.redis.url) as b, \
                Server("--store", self.redis.url) as c:
            prompts, answers, usages, codes = three_turns(a, seed=808, session="c")
            pages = self.redis.keys("fm1:*:page:*")
            self.assertGreater(len(pages), 2)
            # One page gone (evicted, say): b cannot load the session and prefills it.
            self.redis.cli("DEL", pages[len(pages) // 2])
            got3, u3 = complete(b, prompts[3], session="c")
            self.assertEqual((got3, cached(u3)), (answers[3], 0))
            self.assertIn("is not in the store", b.log())
            # Every page corrupt: c's load fails its checksums and c prefills too.
            for key in self.redis.keys("fm1:*:page:*"):
                self.redis.cli("SETRANGE", key, "4000", "X")
            got3c, u3c = complete(c, prompts[3], session="c")
            self.assertEqual((got3c, cached(u3c)), (answers[3], 0))
            self.assertIn("checksum mismatch", c.log())

    def test_process_killed_mid_decode(self):
        with Server("--store", self.redis.url, "--store-lease", "2") as b, Server() as reference:
            prompts, answers, usages, codes = three_turns(reference, seed=909, session="ref")
            a = Server("--store", self.redis.url, "--store-lease", "2").start()
            try:
                complete(a, prompts[1], session="k")
                def doomed_turn():
                    try:
                        a.request("POST", "/v1/completions", {"prompt": prompts[2], "max_tokens": 400, "temperature": 0,
                                                              "session": "k"}, timeout=60)
                    except (ConnectionError, http.client.HTTPException):
                        pass  # killed mid-decode: no answer, as expected
                t = threading.Thread(target=doomed_turn)
                t.start()
                time.sleep(1.0)
            finally:
                a.kill9()
            t.join()
            # The lease dies with its holder after 2 s; b then continues from turn 1's state.
            deadline = time.time() + 30
            while True:
                status, _, out = b.post_json("/v1/completions", {"prompt": prompts[2], "max_tokens": 12,
                                                                 "temperature": 0, "stop": ["\n"], "session": "k"})
                if status != 409 or time.time() > deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(status, 200, out)
            self.assertEqual(out["choices"][0]["text"], answers[2])
            self.assertEqual(cached(out["usage"]), usages[1]["prompt_tokens"] + usages[1]["completion_tokens"] - 1)


if __name__ == "__main__":
    unittest.main()
