"""baton_agent: durable steps for Python agents run by `baton worker run`.

One file, standard library only (Python 3.8+): copy it next to your agent.
It speaks the step protocol of the endpoint that the worker serves each
attempt (BATON_STEP_URL, BATON_STEP_TOKEN; docs/steps.md), like Go's
pkg/agent and `baton step`.

Every attempt runs the program from the top. A step already recorded in the
task's journal returns its recorded value at once, without running and
without being metered again::

    import baton_agent as baton

    def main():
        pages = baton.run("fetch", lambda: fetch(baton.current_step().idempotency_key))
        baton.usage(tokens=1200, cost_usd=0.0031)      # charged to the open step
        ok = baton.wait("approve", "approve", timeout=24 * 3600)
        return {"pages": pages, "approved": ok}

    baton.main(main)   # prints the result as the task's output; exits with exit_code

When the task must wait (a long sleep, a signal, a child, its budget) a call
raises Suspended: let it propagate; main() exits 75, the worker frees the
slot and a later attempt replays to the wait.

Exit codes (exit_code): 0 ok, 1 error, 2 no step endpoint, 4 the endpoint
refused the token, 7 a wait timed out, 75 suspended (the task waits),
78 a step failed for good (Permanent, StepFailed).
"""

import contextvars
import json
import os
import sys
import urllib.error
import urllib.request
from decimal import ROUND_CEILING, Decimal

__all__ = [
    "BatonError", "Suspended", "WaitTimeout", "NoSupervisor", "BadToken", "EndpointError",
    "Permanent", "StepFailed", "Step", "Client",
    "run", "sleep", "wait", "spawn", "join", "emit", "usage", "info", "current_step", "exit_code", "main",
]

ENV_STEP_URL = "BATON_STEP_URL"
ENV_STEP_TOKEN = "BATON_STEP_TOKEN"
MAX_SHORT_SLEEP_SECONDS = 10
# A child task's end is signalled to its parent as CHILD_SIGNAL_PREFIX + its id.
CHILD_SIGNAL_PREFIX = "child:"

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BAD_TOKEN, EXIT_TIMEOUT = 0, 1, 2, 4, 7
EXIT_SUSPENDED, EXIT_PERMANENT = 75, 78


class BatonError(Exception):
    """An error of the step protocol; exit_code is the program's exit."""

    exit_code = EXIT_ERROR


class Suspended(BatonError):
    """The task now waits (or the attempt is over): exit (75)."""

    exit_code = EXIT_SUSPENDED

    def __init__(self, reason=""):
        super().__init__("the task must wait: the attempt is suspended (%s)" % reason)
        self.reason = reason


class WaitTimeout(BatonError):
    """A wait's timeout passed before its signal came (7)."""

    exit_code = EXIT_TIMEOUT


class NoSupervisor(BatonError):
    """BATON_STEP_URL or BATON_STEP_TOKEN is not set (2)."""

    exit_code = EXIT_USAGE


class BadToken(BatonError):
    """The step endpoint refused BATON_STEP_TOKEN (4)."""

    exit_code = EXIT_BAD_TOKEN


class EndpointError(BatonError):
    """The endpoint answered an error (status, code) or could not be reached."""

    def __init__(self, message, status=0, code=""):
        super().__init__(message)
        self.status, self.code = status, code


class Permanent(Exception):
    """Raise it from a step's function to record the failure: every replay
    raises StepFailed without running the step (exit 78). Any other
    exception records nothing and the step runs again in a later attempt."""

    exit_code = EXIT_PERMANENT


class StepFailed(BatonError):
    """A step's failure recorded in the journal (78)."""

    exit_code = EXIT_PERMANENT

    def __init__(self, key, message):
        super().__init__("step %s failed: %s" % (key, message))
        self.key, self.message = key, message


class Step:
    """The step whose function runs (current_step())."""

    def __init__(self, key="", idempotency_key="", previous_outcome=""):
        self.key = key  # the journal's key: KEY, or KEY#n when repeated in the attempt
        self.idempotency_key = idempotency_key  # stable across attempts: pass it to providers
        self.previous_outcome = previous_outcome  # "unknown": an earlier attempt died in this step

    def __repr__(self):
        return "Step(key=%r, idempotency_key=%r, previous_outcome=%r)" % (
            self.key, self.idempotency_key, self.previous_outcome)


_current = contextvars.ContextVar("baton_step", default=None)


def current_step():
    """The step running now (an empty Step outside run's function)."""
    return _current.get() or Step()


def exit_code(exc):
    """The exit code a program should end with after exc (None: 0)."""
    if exc is None:
        return EXIT_OK
    return getattr(exc, "exit_code", EXIT_ERROR)


def _micros(cost_usd):
    """Dollars as integer micro-dollars; digits past the sixth round up."""
    return int((Decimal(str(cost_usd)) * 1000000).to_integral_value(rounding=ROUND_CEILING))


def _suspended(answer):
    if answer.get("action") in ("suspend", "stop"):
        raise Suspended(answer.get("reason", ""))


def _outcome(answer):
    """A done answer's output (decoded), or its recorded error raised."""
    _suspended(answer)
    if answer.get("action") != "done":
        raise EndpointError("step %s: unexpected action %r" % (answer.get("key"), answer.get("action")))
    if answer.get("error"):
        raise StepFailed(answer.get("key", ""), answer["error"])
    out = answer.get("output")
    return None if out is None else out


class Client:
    """A client of one attempt's step endpoint; the module's functions use
    Client() (the environment's) unless given client=."""

    def __init__(self, url=None, token=None, timeout=None):
        url = url if url is not None else os.environ.get(ENV_STEP_URL, "")
        token = token if token is not None else os.environ.get(ENV_STEP_TOKEN, "")
        if not url or not token:
            raise NoSupervisor("no step endpoint: %s and %s are not set (run under `baton worker run`)"
                               % (ENV_STEP_URL, ENV_STEP_TOKEN))
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def call(self, path, body=None):
        """One call of the protocol: POST body as JSON (GET without body);
        returns the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if body is None else "POST")
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                raw = res.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            if e.code == 401:
                raise BadToken("the step endpoint refused %s" % ENV_STEP_TOKEN) from None
            try:
                err = json.loads(raw)
                msg, code = err.get("error") or raw.decode(errors="replace").strip(), err.get("code", "")
            except (ValueError, AttributeError):
                msg, code = raw.decode(errors="replace").strip(), ""
            raise EndpointError("step call %s: %s (%d %s)" % (path, msg, e.code, code), e.code, code) from None
        except (urllib.error.URLError, OSError) as e:
            raise EndpointError("step call %s: %s" % (path, e)) from None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise EndpointError("step call %s: answer: %s" % (path, e)) from None

    def run(self, key, fn, at_most_once=False, input_hash=None):
        begin = {"key": key}
        if at_most_once:
            begin["at_most_once"] = True
        if input_hash:
            begin["input_hash"] = input_hash
        a = self.call("/begin", begin)
        if a.get("action") == "done":
            return _outcome(a)
        _suspended(a)
        if a.get("action") != "run":
            raise EndpointError("step %s: unexpected action %r" % (key, a.get("action")))
        jk = a.get("key", key)
        token = _current.set(Step(jk, a.get("idempotency_key", ""), a.get("previous_outcome", "")))
        try:
            value = fn()
        except Permanent as e:
            _suspended(self.call("/end", {"key": jk, "error": str(e) or type(e).__name__}))
            raise StepFailed(jk, str(e)) from e
        finally:
            _current.reset(token)
        _suspended(self.call("/end", {"key": jk, "output": value}))
        return value

    def sleep(self, key, seconds):
        if seconds < 0:
            raise ValueError("a sleep's duration must not be negative")
        _outcome(self.call("/sleep", {"key": key, "duration_ms": int(round(seconds * 1000))}))

    def wait(self, key, signal, timeout=0):
        secs = int(timeout)
        if timeout > 0 and secs == 0:
            secs = 1
        body = {"key": key, "signal": signal}
        if secs:
            body["timeout_seconds"] = secs
        a = self.call("/wait", body)
        if a.get("action") == "done" and a.get("error") == "timeout":
            raise WaitTimeout("wait %s for signal %s: timed out waiting for the signal" % (a.get("key", key), signal))
        return _outcome(a)

    def spawn(self, key, input=None, queue="", wait=False):
        body = {"key": key, "input": input if input is not None else {}}
        if queue:
            body["queue"] = queue
        if wait:
            body["wait"] = True
        return _outcome(self.call("/spawn", body))

    def join(self, key, child_ids):
        out = []
        for cid in child_ids:
            out.append(self.wait("%s/%s" % (key, cid), CHILD_SIGNAL_PREFIX + cid))
        return out

    def emit(self, *lines, channel=""):
        body = {"lines": [str(line) for line in lines]}
        if channel:
            body["channel"] = channel
        self.call("/emit", body)

    def usage(self, tokens=0, cost_usd=0, cost_micros=None):
        micros = cost_micros if cost_micros is not None else _micros(cost_usd)
        self.call("/usage", {"tokens": int(tokens), "cost_micros": int(micros)})

    def info(self):
        return self.call("/info")


def _client(client):
    return client if client is not None else Client()


def run(key, fn, at_most_once=False, input_hash=None, client=None):
    """Run fn() as step key, once, and return its value (JSON-serialisable).
    A recorded step returns its recorded value without calling fn. Inside
    fn, current_step() describes the step. Raise Permanent from fn to record
    a failure; any other exception records nothing (the step runs again).
    at_most_once: a step in flight when its attempt died is not run again
    (the task waits for an operator). input_hash: a replay with another
    hash is refused (EndpointError, 409)."""
    return _client(client).run(key, fn, at_most_once, input_hash)


def sleep(key, seconds, client=None):
    """Sleep durably: up to 10 s in place, longer as a wait of the task
    (raises Suspended: exit; a later attempt continues after it)."""
    _client(client).sleep(key, seconds)


def wait(key, signal, timeout=0, client=None):
    """Wait for signal (timeout in seconds, 0: none) and return its data.
    Raises Suspended (the task waits: exit), WaitTimeout."""
    return _client(client).wait(key, signal, timeout)


def spawn(key, input=None, queue="", wait=False, client=None):
    """Create a child task once. Without wait returns {"task_id": …}; with
    wait the task waits for it (Suspended) and a later attempt gets the
    child's output, or StepFailed naming its state."""
    return _client(client).spawn(key, input, queue, wait)


def join(key, child_ids, client=None):
    """Wait for the end of each child task of child_ids (spawned without
    wait) and return how each ended, in that order: a list of
    {"task_id", "status", "output", "error"} (a failed child is an outcome,
    not an exception). Each child is a wait step "KEY/ID" for the signal
    "child:ID" the server sends the parent, once, when the child ends, so
    a later attempt answers the children that ended at once. Raises
    Suspended while a child runs (the task waits: exit)."""
    return _client(client).join(key, child_ids)


def emit(*lines, channel="", client=None):
    """Send lines to the task's events as they come (e.g. LLM tokens): stream
    events on channel ("" for none; at most 64 bytes, no spaces)."""
    _client(client).emit(*lines, channel=channel)


def usage(tokens=0, cost_usd=0, cost_micros=None, client=None):
    """Report usage (tokens, dollars or micro-dollars): charged to the open step."""
    _client(client).usage(tokens, cost_usd, cost_micros)


def info(client=None):
    """The attempt: {"task_id", "attempt", "queue", "workspace_id"}."""
    return _client(client).info()


def main(fn):
    """Run fn() as the agent: print its value as JSON (the task's output) and
    exit 0; on a BatonError or Permanent print it to stderr and exit with
    its exit_code (75 when the task now waits); other exceptions propagate
    (exit 1)."""
    try:
        value = fn()
    except (BatonError, Permanent) as e:
        print("agent: %s" % e, file=sys.stderr)
        sys.exit(exit_code(e))
    if value is not None:
        print(json.dumps(value))
    sys.exit(EXIT_OK)
