#!/bin/sh
# A durable agent: run it with `baton worker run -- sh summarise.sh`.
# shellcheck disable=SC2016 # each step's sh -c script expands its own $1
set -e
input=$(cat) # the task's input
# Runs once per task; a later attempt prints the recorded output instead.
size=$(baton step run fetch -- sh -c 'printf "%s" "$1" | wc -c' sh "$input")
# Its ::baton usage lines are charged to the step; BATON_STEP_IDEMPOTENCY_KEY
# is the same in every attempt: pass it to the provider.
summary=$(baton step run summarise -- sh -c '
	echo "::baton usage tokens=1200 cost_usd=0.0031" >&2
	echo "summary of $1 bytes (request $BATON_STEP_IDEMPOTENCY_KEY)"' sh "$size")
# Frees the worker (exit 75); the task resumes here when the signal comes.
approval=$(baton step wait approve approve --timeout 24h)
printf '{"summary": "%s", "approval": %s}\n' "$summary" "$approval"
