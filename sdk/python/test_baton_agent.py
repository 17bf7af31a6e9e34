"""Tests of baton_agent against a fake step endpoint (http.server in a
thread) with the server's replay rules in miniature, like Go's
pkg/agent/agenttest. Run: python3 -m unittest discover -s sdk/python"""

import io
import json
import os
import subprocess
import sys
import threading
import unittest
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baton_agent as baton  # noqa: E402

TOKEN = "fake-token"
TASK = "task_fake"


class Journal:
    """The fake's state: the journal, signals, children, a budget switch."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempt, self.seen, self.steps, self.order = 1, {}, {}, []
        self.signals, self.children, self.timeouts = {}, {}, set()
        self.budget, self.ended, self.emitted, self.usage, self.open = "", None, [], [0, 0], ""
        self.calls = []

    def next_attempt(self):
        with self.lock:
            self.attempt += 1
            self.seen, self.ended, self.usage, self.open = {}, None, [0, 0], ""

    def suspend(self, key, reason):
        self.ended = {"action": "suspend", "key": key, "reason": reason}
        return self.ended

    def begin(self, key, kind, hash_=""):
        """(entry or None, answer, answered) as the server's begin decides."""
        self.calls.append("begin " + key)
        if self.ended:
            return None, self.ended, True
        self.seen[key] = self.seen.get(key, 0) + 1
        jk = key if self.seen[key] == 1 else "%s#%d" % (key, self.seen[key])
        a = {"key": jk, "idempotency_key": TASK + "/" + jk}
        s = self.steps.get(jk)
        if s is None:
            return None, a, False
        if s["kind"] != kind or (hash_ and s.get("hash") and s["hash"] != hash_):
            raise Conflict("step %s changed: the program is not deterministic" % jk)
        if s["status"] in ("succeeded", "failed"):
            a.update(action="done", output=s.get("output"))
            if s.get("error"):
                a["error"] = s["error"]
            return s, a, True
        return s, a, False

    def record(self, jk, kind, **kw):
        s = dict(key=jk, kind=kind, status="running", runs=0, attempt=self.attempt, usage=[0, 0], **kw)
        self.steps[jk] = s
        self.order.append(jk)
        return s


class Conflict(Exception):
    pass


def handler(j):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.handle_call(None)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            self.handle_call(json.loads(self.rfile.read(n)))

        def handle_call(self, body):
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.reply(401, {"code": "unauthenticated", "error": "bad or missing step token"})
            fn = getattr(self, "call_" + self.path.strip("/"), None)
            if fn is None:
                return self.reply(404, {"code": "not_found", "error": "no route"})
            with j.lock:
                try:
                    out = fn(body)
                except Conflict as e:
                    return self.reply(409, {"code": "conflict", "error": str(e)})
                except ValueError as e:
                    return self.reply(400, {"code": "invalid_request", "error": str(e)})
            self.reply(200, out)

        def call_begin(self, b):
            s, a, done = j.begin(b["key"], "run", b.get("input_hash", ""))
            if done:
                return a
            if j.budget:
                return j.suspend(a["key"], "budget: " + j.budget)
            if s is None:
                s = j.record(a["key"], "run", hash=b.get("input_hash", ""), amo=b.get("at_most_once", False))
            elif s["attempt"] != j.attempt:
                if s["amo"]:
                    return j.suspend(a["key"], "operator: at-most-once step in flight")
                a["previous_outcome"] = "unknown"
            s.update(status="running", runs=s["runs"] + 1, attempt=j.attempt)
            j.open = a["key"]
            a["action"] = "run"
            return a

        def call_end(self, b):
            j.calls.append("end " + b["key"])
            if j.ended:
                return j.ended
            s = j.steps.get(b["key"])
            if not s or s["status"] != "running" or s["attempt"] != j.attempt:
                raise Conflict("step %s is not running in this attempt" % b["key"])
            if b.get("error"):
                s.update(status="failed", error=b["error"], output=None)
            else:
                s.update(status="succeeded", output=b.get("output"))
            j.open = ""
            return {"action": "done", "key": b["key"]}

        def call_sleep(self, b):
            ms = b["duration_ms"]
            short = ms <= baton.MAX_SHORT_SLEEP_SECONDS * 1000
            kind = "run" if short else "sleep"
            s, a, done = j.begin(b["key"], kind, "sleep %dms" % ms)
            if done:
                return a
            if s is None:
                s = j.record(a["key"], kind)
            if short or s["attempt"] != j.attempt:
                s.update(status="succeeded", output={"slept_ms": ms})
                a.update(action="done", output=s["output"])
                return a
            s["status"] = "waiting"
            return j.suspend(a["key"], "sleep")

        def call_wait(self, b):
            if not b.get("signal"):
                raise ValueError("a wait needs a signal name")
            s, a, done = j.begin(b["key"], "wait")
            if done:
                return a
            if s is None:
                s = j.record(a["key"], "wait", timeout=b.get("timeout_seconds", 0))
            q = j.signals.get(b["signal"], [])
            if q:
                s.update(status="succeeded", output=q.pop(0))
                a.update(action="done", output=s["output"])
            elif a["key"] in j.timeouts:
                s.update(status="failed", error="timeout")
                a.update(action="done", error="timeout")
            else:
                s["status"] = "waiting"
                return j.suspend(a["key"], "signal: " + b["signal"])
            return a

        def call_spawn(self, b):
            s, a, done = j.begin(b["key"], "spawn")
            if done:
                return a
            if s is None:
                cid = "task_child%d" % (len(j.children) + 1)
                j.children[cid] = {"queue": b.get("queue", ""), "input": b.get("input"), "done": False}
                s = j.record(a["key"], "spawn", child=cid)
            c = j.children[s["child"]]
            if not b.get("wait"):
                s.update(status="succeeded", output={"task_id": s["child"]})
            elif c["done"] and c.get("error"):
                s.update(status="failed", error="child %s %s" % (s["child"], c["error"]))
            elif c["done"]:
                s.update(status="succeeded", output=c["output"])
            else:
                s["status"] = "waiting"
                return j.suspend(a["key"], "child: " + s["child"])
            a.update(action="done", output=s.get("output"))
            if s.get("error"):
                a["error"] = s["error"]
            return a

        def call_emit(self, b):
            ch = b.get("channel", "")
            j.emitted += [(ch, line) for line in b["lines"]]  # stream events: (channel, line)
            return {"action": "done"}

        def call_usage(self, b):
            if b["tokens"] < 0 or b["cost_micros"] < 0:
                raise ValueError("usage must not be negative")
            j.usage[0] += b["tokens"]
            j.usage[1] += b["cost_micros"]
            if j.open:
                u = j.steps[j.open]["usage"]
                u[0] += b["tokens"]
                u[1] += b["cost_micros"]
            return {"action": "done"}

        def call_info(self, _):
            return {"task_id": TASK, "attempt": j.attempt, "queue": "default", "workspace_id": "ws_fake"}

    return H


class FakeEndpoint:
    def __init__(self):
        self.j = Journal()
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), handler(self.j))
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def client(self, token=TOKEN):
        return baton.Client(self.url, token)

    def env(self, token=TOKEN):
        return {baton.ENV_STEP_URL: self.url, baton.ENV_STEP_TOKEN: token}


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.f = FakeEndpoint()
        self.addCleanup(self.f.close)
        patcher = mock.patch.dict(os.environ, self.f.env())
        patcher.start()
        self.addCleanup(patcher.stop)
        self.j = self.f.j

    def test_run_records_and_replays(self):
        ran = []

        def fetch():
            s = baton.current_step()
            ran.append((s.key, s.idempotency_key, s.previous_outcome))
            return {"n": 3, "pages": ["a", "b"]}

        for _ in range(3):
            self.assertEqual(baton.run("fetch", fetch), {"n": 3, "pages": ["a", "b"]})
            self.j.next_attempt()
        self.assertEqual(ran, [("fetch", TASK + "/fetch", "")])
        self.assertEqual(self.j.steps["fetch"]["status"], "succeeded")
        self.assertEqual(baton.current_step().key, "")

    def test_repeated_keys(self):
        for _ in range(2):
            got = [baton.run("page", lambda i=i: i * 10) for i in range(3)]
            self.assertEqual(got, [0, 10, 20])
            self.j.next_attempt()
        self.assertEqual(self.j.order, ["page", "page#2", "page#3"])

    def test_error_runs_again(self):
        def boom():
            raise RuntimeError("provider down")

        with self.assertRaises(RuntimeError):
            baton.run("call", boom)
        self.assertEqual(self.j.steps["call"]["status"], "running")
        self.j.next_attempt()
        self.assertEqual(baton.run("call", lambda: baton.current_step().previous_outcome), "unknown")
        self.assertEqual(self.j.steps["call"]["runs"], 2)
        self.assertEqual(baton.exit_code(RuntimeError()), 1)

    def test_permanent_failure_replays(self):
        def parse():
            raise baton.Permanent("not a PDF")

        with self.assertRaises(baton.StepFailed) as cm:
            baton.run("parse", parse)
        self.assertEqual(baton.exit_code(cm.exception), 78)
        self.j.next_attempt()
        with self.assertRaises(baton.StepFailed) as cm:
            baton.run("parse", lambda: self.fail("a recorded failure ran again"))
        self.assertEqual((cm.exception.key, cm.exception.message), ("parse", "not a PDF"))

    def test_at_most_once(self):
        with self.assertRaises(ZeroDivisionError):
            baton.run("charge", lambda: 1 / 0, at_most_once=True)
        self.j.next_attempt()
        with self.assertRaises(baton.Suspended) as cm:
            baton.run("charge", lambda: self.fail("ran twice"), at_most_once=True)
        self.assertIn("operator", cm.exception.reason)
        self.assertEqual(baton.exit_code(cm.exception), 75)

    def test_input_hash(self):
        baton.run("sum", lambda: 1, input_hash="h1")
        self.j.next_attempt()
        self.assertEqual(baton.run("sum", lambda: 2, input_hash="h1"), 1)
        self.j.next_attempt()
        with self.assertRaises(baton.EndpointError) as cm:
            baton.run("sum", lambda: 1, input_hash="h2")
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "conflict"))
        self.assertEqual(baton.exit_code(cm.exception), 1)

    def test_budget_suspends(self):
        self.j.budget = "task budget $0.05 reached"
        with self.assertRaises(baton.Suspended) as cm:
            baton.run("llm", lambda: self.fail("began over the budget"))
        self.assertIn("budget", cm.exception.reason)
        self.j.budget = ""
        with self.assertRaises(baton.Suspended):
            baton.sleep("nap", 1)  # the attempt is over
        self.j.next_attempt()
        self.assertEqual(baton.run("llm", lambda: 7), 7)

    def test_stopped_during_step(self):
        def long():
            self.j.ended = {"action": "stop", "reason": "cancelled"}
            return 1

        with self.assertRaises(baton.Suspended) as cm:
            baton.run("long", long)
        self.assertEqual(cm.exception.reason, "cancelled")

    def test_sleep(self):
        baton.sleep("short", 2)
        self.assertEqual(self.j.steps["short"]["output"], {"slept_ms": 2000})
        with self.assertRaises(baton.Suspended):
            baton.sleep("long", 3600)
        self.j.next_attempt()
        baton.sleep("short", 2)
        baton.sleep("long", 3600)
        with self.assertRaises(ValueError):
            baton.sleep("neg", -1)

    def test_wait(self):
        with self.assertRaises(baton.Suspended) as cm:
            baton.wait("approve", "approve", timeout=3600)
        self.assertEqual(cm.exception.reason, "signal: approve")
        self.j.signals["approve"] = [{"ok": True}]
        self.j.next_attempt()
        self.assertEqual(baton.wait("approve", "approve", timeout=3600), {"ok": True})
        self.j.signals["early"] = ["first"]
        self.assertEqual(baton.wait("early", "early"), "first")
        self.j.timeouts.add("late")
        with self.assertRaises(baton.WaitTimeout) as cm:
            baton.wait("late", "late", timeout=0.5)
        self.assertEqual(baton.exit_code(cm.exception), 7)
        self.assertEqual(self.j.steps["late"]["timeout"], 1)
        with self.assertRaises(baton.EndpointError) as cm:
            baton.wait("nameless", "")
        self.assertEqual(cm.exception.status, 400)

    def test_spawn(self):
        self.assertEqual(baton.spawn("a", {"n": 1}, queue="etl"), {"task_id": "task_child1"})
        self.assertEqual(self.j.children["task_child1"]["queue"], "etl")
        with self.assertRaises(baton.Suspended) as cm:
            baton.spawn("b", [2], wait=True)
        self.assertEqual(cm.exception.reason, "child: task_child2")
        self.j.children["task_child2"].update(done=True, output={"sum": 2})
        self.j.next_attempt()
        baton.spawn("a", {"n": 1}, queue="etl")
        self.assertEqual(baton.spawn("b", [2], wait=True), {"sum": 2})
        with self.assertRaises(baton.Suspended):
            baton.spawn("c", wait=True)
        self.j.children["task_child3"].update(done=True, error="failed")
        self.j.next_attempt()
        baton.spawn("a")
        baton.spawn("b")
        with self.assertRaises(baton.StepFailed) as cm:
            baton.spawn("c", wait=True)
        self.assertIn("task_child3 failed", str(cm.exception))
        self.assertEqual(self.j.children["task_child3"]["input"], {})

    def end_child(self, cid, output=None, error=""):
        """A child's end, as the server signals it to the parent (once)."""
        status = "failed" if error else "succeeded"
        data = {"task_id": cid, "status": status, "output": None if error else output, "error": error}
        self.j.signals.setdefault("child:" + cid, []).append(data)

    def test_join(self):
        def fan():
            ids = [baton.spawn("part-%d" % i, {"i": i}, queue="parts")["task_id"] for i in range(3)]
            return baton.join("parts", ids)

        with self.assertRaises(baton.Suspended) as cm:
            fan()
        self.assertEqual(cm.exception.reason, "signal: child:task_child1")
        self.assertEqual(self.j.children["task_child3"]["input"], {"i": 2})
        self.end_child("task_child3", "c")
        self.end_child("task_child2", error="boom")
        self.j.next_attempt()
        with self.assertRaises(baton.Suspended):
            fan()
        self.end_child("task_child1", {"a": 1})
        self.j.next_attempt()
        self.assertEqual(fan(), [
            {"task_id": "task_child1", "status": "succeeded", "output": {"a": 1}, "error": ""},
            {"task_id": "task_child2", "status": "failed", "output": None, "error": "boom"},
            {"task_id": "task_child3", "status": "succeeded", "output": "c", "error": ""},
        ])
        self.assertIn("parts/task_child2", self.j.steps)
        self.assertEqual(len(self.j.children), 3)

    def test_emit_usage_info(self):
        baton.emit("Hel", "lo", channel="llm")
        baton.emit("plain")
        self.assertEqual(self.j.emitted, [("llm", "Hel"), ("llm", "lo"), ("", "plain")])

        def llm():
            baton.usage(tokens=1200, cost_usd=0.031)
            baton.usage(cost_usd="0.0000001")  # rounds up to a micro-dollar
            return "text"

        baton.run("llm", llm)
        baton.usage(tokens=5, cost_micros=7)
        self.assertEqual(self.j.steps["llm"]["usage"], [1200, 31001])
        self.assertEqual(self.j.usage, [1205, 31008])
        with self.assertRaises(baton.EndpointError):
            baton.usage(tokens=-1)
        self.assertEqual(baton.info(), {"task_id": TASK, "attempt": 1, "queue": "default", "workspace_id": "ws_fake"})

    def test_environment(self):
        with mock.patch.dict(os.environ, {baton.ENV_STEP_URL: "", baton.ENV_STEP_TOKEN: ""}):
            for call in (lambda: baton.run("k", lambda: 0), lambda: baton.sleep("k", 1), lambda: baton.wait("k", "s"),
                         lambda: baton.spawn("k"), lambda: baton.emit("x"), lambda: baton.usage(1), baton.info):
                with self.assertRaises(baton.NoSupervisor) as cm:
                    call()
                self.assertEqual(baton.exit_code(cm.exception), 2)
        with self.assertRaises(baton.BadToken) as cm:
            baton.info(client=self.f.client("wrong"))
        self.assertEqual(baton.exit_code(cm.exception), 4)
        self.assertEqual(baton.info(client=self.f.client())["task_id"], TASK)
        with self.assertRaises(baton.EndpointError):
            baton.Client("http://127.0.0.1:1", "t").info()

    def test_exit_codes(self):
        cases = [(None, 0), (ValueError(), 1), (baton.NoSupervisor(), 2), (baton.BadToken(), 4),
                 (baton.WaitTimeout(), 7), (baton.Suspended("x"), 75), (baton.Permanent("x"), 78),
                 (baton.StepFailed("k", "m"), 78), (baton.EndpointError("x"), 1)]
        for exc, want in cases:
            self.assertEqual(baton.exit_code(exc), want, exc)

    def test_main(self):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            baton.main(lambda: {"ok": baton.run("s", lambda: 1)})
        self.assertEqual((cm.exception.code, out.getvalue()), (0, '{"ok": 1}\n'))
        self.j.budget = "reached"
        with redirect_stdout(out), redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            baton.main(lambda: baton.run("t", lambda: 1))
        self.assertEqual(cm.exception.code, 75)
        self.assertIn("budget: reached", err.getvalue())

    def test_a_real_process(self):
        """The module as an agent's program sees it: a child process with
        the endpoint in its environment, exiting with exit_code."""
        here = os.path.dirname(os.path.abspath(__file__))
        prog = ("import baton_agent as b\n"
                "b.main(lambda: {'v': b.run('x', lambda: 41) + 1, 'w': b.wait('go', 'go')})\n")
        env = dict(os.environ, PYTHONPATH=here)
        p = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 75, p.stderr)
        self.j.signals["go"] = ["yes"]
        self.j.next_attempt()
        p = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, '{"v": 42, "w": "yes"}\n'), p.stderr)
        self.assertEqual(self.j.steps["x"]["runs"], 1)


if __name__ == "__main__":
    unittest.main()
