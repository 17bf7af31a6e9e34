# A durable agent: run it with `baton worker run -- python3 summarise.py`
# (baton_agent.py beside it, or on PYTHONPATH).
import json
import sys

import baton_agent as baton


def main():
    task = json.load(sys.stdin)  # the task's input
    # Runs once per task; a later attempt gets the recorded value instead.
    size = baton.run("fetch", lambda: len(json.dumps(task)))

    def summarise():
        baton.usage(tokens=1200, cost_usd=0.0031)  # charged to this step
        key = baton.current_step().idempotency_key  # the same in every attempt
        return "summary of %d bytes (request %s)" % (size, key)

    summary = baton.run("summarise", summarise)
    # Frees the worker (exit 75); the task resumes here when the signal comes.
    approval = baton.wait("approve", "approve", timeout=24 * 3600)
    return {"summary": summary, "approval": approval}


baton.main(main)
