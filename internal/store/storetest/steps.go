package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func begin(t *testing.T, s store.Store, ws, id string, b store.StepBegin) store.StepBegun {
	t.Helper()
	if b.Kind == "" {
		b.Kind = api.StepRun
	}
	if b.Lease == 0 {
		b.Lease = lease
	}
	got, err := s.BeginStep(t.Context(), ws, id, b)
	must(t, err, "BeginStep "+b.Key)
	return got
}

func end(t *testing.T, s store.Store, ws, id string, e store.StepEnd) {
	t.Helper()
	if e.Lease == 0 {
		e.Lease = lease
	}
	_, err := s.EndStep(t.Context(), ws, id, e)
	must(t, err, "EndStep "+e.Key)
}

func wantAction(t *testing.T, got store.StepBegun, action, key string) {
	t.Helper()
	if got.Action != action || got.Key != key {
		t.Fatalf("begin = %s %q (reason %q), want %s %q", got.Action, got.Key, got.Reason, action, key)
	}
}

func testStepsJournalReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))

	// Attempt 1: fetch runs and ends; fetch again is fetch#2; it dies in think.
	at := t0.Add(time.Second)
	b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "fetch", Attempt: 1, Now: at, InputHash: "h1"})
	wantAction(t, b, api.ActionRun, "fetch")
	if b.IdempotencyKey != task.ID+"/fetch" || b.PreviousOutcome != "" {
		t.Errorf("begin = %+v", b)
	}
	end(t, s, ws.ID, task.ID, store.StepEnd{Key: "fetch", Attempt: 1, Output: json.RawMessage(`{"n":1}`),
		Usage: &store.Usage{Tokens: 100, CostMicros: 10}, Now: at.Add(time.Second)})
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "fetch", Attempt: 1, Now: at.Add(2 * time.Second),
		Usage: &store.Usage{Tokens: 100, CostMicros: 10}})
	wantAction(t, b, api.ActionRun, "fetch#2")
	end(t, s, ws.ID, task.ID, store.StepEnd{Key: "fetch#2", Attempt: 1, Output: json.RawMessage(`2`),
		Usage: &store.Usage{Tokens: 150, CostMicros: 15}, Now: at.Add(3 * time.Second)})
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "think", Attempt: 1, Now: at.Add(4 * time.Second),
		Usage: &store.Usage{Tokens: 150, CostMicros: 15}})
	wantAction(t, b, api.ActionRun, "think")
	// think spends 40 tokens (a heartbeat) and the attempt dies.
	_, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, &store.Usage{Tokens: 190, CostMicros: 19}, at.Add(5*time.Second), lease)
	must(t, err, "Heartbeat")
	_, err = s.ExpireLeases(ctx, at.Add(time.Hour), nil)
	must(t, err, "ExpireLeases")

	// A stale attempt's step call is fenced.
	_, err = s.BeginStep(ctx, ws.ID, task.ID, store.StepBegin{Key: "x", Kind: api.StepRun, Attempt: 1, Now: at.Add(time.Hour)})
	wantErr(t, err, store.ErrStale, "BeginStep of an expired attempt")
	_, err = s.EndStep(ctx, ws.ID, task.ID, store.StepEnd{Key: "think", Attempt: 1, Now: at.Add(time.Hour)})
	wantErr(t, err, store.ErrStale, "EndStep of an expired attempt")

	// Attempt 2 replays: fetch and fetch#2 are done, think runs again.
	at2 := at.Add(2 * time.Hour)
	claim(t, s, params(ws.ID, at2))
	_, err = s.BeginStep(ctx, ws.ID, task.ID, store.StepBegin{Key: "fetch", Kind: api.StepRun, Attempt: 2, Now: at2, InputHash: "other", Lease: lease})
	wantErr(t, err, store.ErrConflict, "replay with another input hash")
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "fetch", Attempt: 2, Now: at2, InputHash: "h1"})
	wantAction(t, b, api.ActionDone, "fetch")
	if string(b.Output) != `{"n":1}` {
		t.Errorf("replayed output = %s", b.Output)
	}
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "fetch", Attempt: 2, Now: at2})
	wantAction(t, b, api.ActionDone, "fetch#2")
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "think", Attempt: 2, Now: at2})
	wantAction(t, b, api.ActionRun, "think")
	if b.PreviousOutcome != api.PreviousOutcomeUnknown || b.IdempotencyKey != task.ID+"/think" {
		t.Errorf("rerun begin = %+v", b)
	}
	end(t, s, ws.ID, task.ID, store.StepEnd{Key: "think", Attempt: 2, Output: json.RawMessage(`"ok"`),
		Usage: &store.Usage{Tokens: 30, CostMicros: 3}, Now: at2.Add(time.Second)})
	// Ending it twice is a conflict.
	_, err = s.EndStep(ctx, ws.ID, task.ID, store.StepEnd{Key: "think", Attempt: 2, Now: at2.Add(time.Second), Lease: lease})
	wantErr(t, err, store.ErrConflict, "EndStep twice")
	_, err = s.EndStep(ctx, ws.ID, task.ID, store.StepEnd{Key: "nope", Attempt: 2, Now: at2.Add(time.Second), Lease: lease})
	wantErr(t, err, store.ErrNotFound, "EndStep of no step")

	steps, err := s.ListSteps(ctx, ws.ID, task.ID)
	must(t, err, "ListSteps")
	var keys []string
	for _, st := range steps {
		keys = append(keys, fmt.Sprintf("%s:%s:%d:%d", st.Key, st.Status, st.Attempts, st.Tokens))
	}
	if got, want := fmt.Sprint(keys), "[fetch:succeeded:1:100 fetch#2:succeeded:1:50 think:succeeded:2:30]"; got != want {
		t.Errorf("journal = %s, want %s", got, want)
	}
	if th := steps[2]; th.WasteTokens != 40 || th.WasteCostMicros != 4 {
		t.Errorf("think's retry waste = %d tokens %d micros, want 40 and 4", th.WasteTokens, th.WasteCostMicros)
	}
	// Metering: every token of every attempt counted once (replays nothing).
	totals, err := s.UsageTotals(ctx, ws.ID, store.UsagePeriod(at))
	must(t, err, "UsageTotals")
	if totals[store.MetricTokens] != 190+30 {
		t.Errorf("metered tokens = %d, want 220", totals[store.MetricTokens])
	}
	if totals[api.MetricRetryWasteTokens] != 40 || totals[api.MetricRetryWasteCostMicros] != 4 {
		t.Errorf("retry waste = %d tokens %d micros, want 40 and 4", totals[api.MetricRetryWasteTokens], totals[api.MetricRetryWasteCostMicros])
	}
	// Another workspace sees nothing.
	other, _ := createWorkspace(t, s, "other")
	_, err = s.ListSteps(ctx, other.ID, task.ID)
	wantErr(t, err, store.ErrNotFound, "ListSteps of another workspace")
	_, err = s.BeginStep(ctx, other.ID, task.ID, store.StepBegin{Key: "x", Kind: api.StepRun, Attempt: 2, Now: at2, Lease: lease})
	wantErr(t, err, store.ErrNotFound, "BeginStep of another workspace")
}

func signal(t *testing.T, s store.Store, ws, id, name, data, key string, at time.Time) (store.Signal, bool, store.Task) {
	t.Helper()
	sig, created, task, err := s.SendSignal(t.Context(), ws, id, store.Signal{ID: ids.New("sig"), Name: name,
		Data: json.RawMessage(data), IdempotencyKey: key, CreatedAt: at})
	must(t, err, "SendSignal "+name)
	return sig, created, task
}

func testStepsWaitSignal(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	// A signal sent before the wait is kept.
	_, created, _ := signal(t, s, ws.ID, task.ID, "early", `1`, "k1", t0)
	_, again, _ := signal(t, s, ws.ID, task.ID, "early", `1`, "k1", t0)
	if !created || again {
		t.Errorf("signal created %v, again %v; want true, false", created, again)
	}
	claim(t, s, params(ws.ID, t0))
	at := t0.Add(time.Second)
	b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "e", Kind: api.StepWait, Signal: "early", Attempt: 1, Now: at})
	wantAction(t, b, api.ActionDone, "e")
	if string(b.Output) != "1" {
		t.Errorf("early wait output = %s", b.Output)
	}
	// The signal was delivered once: a second wait for it suspends.
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "approve", Kind: api.StepWait, Signal: "early", Attempt: 1, Now: at})
	wantAction(t, b, api.ActionSuspend, "approve")
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	if got.Status != api.TaskWaiting || got.LeaseExpiresAt != nil || got.StatusReason != "signal: early" || got.SuspendedAttempts != 1 {
		t.Errorf("waiting task = %s %q lease %v suspended %d", got.Status, got.StatusReason, got.LeaseExpiresAt, got.SuspendedAttempts)
	}
	if a := attempts(t, s, ws.ID, task.ID, 1)[0]; a.Status != store.AttemptSuspended {
		t.Errorf("attempt status = %s, want suspended", a.Status)
	}
	noClaim(t, s, params(ws.ID, at.Add(time.Hour)), "claim of a waiting task")
	// Heartbeat of the suspended attempt is stale, with the waiting task.
	hb, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, nil, at, lease)
	wantErr(t, err, store.ErrStale, "Heartbeat of a suspended attempt")
	if hb.Status != api.TaskWaiting {
		t.Errorf("stale heartbeat task = %s", hb.Status)
	}
	// Two signals: the first wakes the task; they are delivered in order.
	_, _, woke := signal(t, s, ws.ID, task.ID, "early", `"a"`, "", at.Add(time.Minute))
	if woke.Status != api.TaskQueued {
		t.Errorf("signalled task = %s, want queued", woke.Status)
	}
	signal(t, s, ws.ID, task.ID, "early", `"b"`, "", at.Add(time.Minute))
	at2 := at.Add(2 * time.Minute)
	c := claim(t, s, params(ws.ID, at2))
	if c.Attempt != 2 {
		t.Errorf("attempt = %d", c.Attempt)
	}
	begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "e", Kind: api.StepWait, Signal: "early", Attempt: 2, Now: at2})
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "approve", Kind: api.StepWait, Signal: "early", Attempt: 2, Now: at2})
	wantAction(t, b, api.ActionDone, "approve")
	if string(b.Output) != `"a"` {
		t.Errorf("approve = %s, want \"a\"", b.Output)
	}
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "approve", Kind: api.StepWait, Signal: "early", Attempt: 2, Now: at2})
	wantAction(t, b, api.ActionDone, "approve#2")
	if string(b.Output) != `"b"` {
		t.Errorf("approve#2 = %s, want \"b\"", b.Output)
	}
	// A wait with a timeout that passes is done with error timeout.
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "t", Kind: api.StepWait, Signal: "never", Timeout: time.Minute, Attempt: 2, Now: at2})
	wantAction(t, b, api.ActionSuspend, "t")
	woken, err := s.WakeDue(ctx, at2.Add(2*time.Minute))
	must(t, err, "WakeDue")
	if len(woken) != 1 || woken[0].ID != task.ID {
		t.Fatalf("WakeDue = %v", woken)
	}
	at3 := at2.Add(3 * time.Minute)
	claim(t, s, params(ws.ID, at3))
	for _, k := range []string{"e", "approve", "approve"} {
		begin(t, s, ws.ID, task.ID, store.StepBegin{Key: k, Kind: api.StepWait, Signal: "early", Attempt: 3, Now: at3})
	}
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "t", Kind: api.StepWait, Signal: "never", Attempt: 3, Now: at3})
	wantAction(t, b, api.ActionDone, "t")
	if b.Error != "timeout" {
		t.Errorf("timed-out wait error = %q", b.Error)
	}
	// A signal to a terminal task is a conflict.
	_, err = s.Complete(ctx, ws.ID, task.ID, 3, store.Outcome{Status: api.TaskSucceeded, Now: at3})
	must(t, err, "Complete")
	_, _, _, err = s.SendSignal(ctx, ws.ID, task.ID, store.Signal{ID: ids.New("sig"), Name: "x", CreatedAt: at3})
	wantErr(t, err, store.ErrConflict, "signal to a succeeded task")
	other, _ := createWorkspace(t, s, "other")
	_, _, _, err = s.SendSignal(ctx, other.ID, task.ID, store.Signal{ID: ids.New("sig"), Name: "x", CreatedAt: at3})
	wantErr(t, err, store.ErrNotFound, "signal to another workspace's task")
}

func testStepsSleepWake(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := newTask(ws.ID)
	task.MaxAttempts = 1
	task = createTask(t, s, task)
	claim(t, s, params(ws.ID, t0))
	b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "nap", Kind: api.StepSleep, Until: t0.Add(2 * time.Second), Attempt: 1, Now: t0})
	wantAction(t, b, api.ActionSuspend, "nap")
	woken, err := s.WakeDue(ctx, t0.Add(time.Second))
	must(t, err, "WakeDue early")
	if len(woken) != 0 {
		t.Errorf("woke %d tasks before the timer", len(woken))
	}
	woken, err = s.WakeDue(ctx, t0.Add(2*time.Second))
	must(t, err, "WakeDue")
	if len(woken) != 1 {
		t.Fatalf("woke %d tasks, want 1", len(woken))
	}
	// max_attempts 1: the suspended attempt does not count.
	c := claim(t, s, params(ws.ID, t0.Add(3*time.Second)))
	if c.Attempt != 2 {
		t.Errorf("attempt = %d", c.Attempt)
	}
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "nap", Kind: api.StepSleep, Attempt: 2, Now: t0.Add(3 * time.Second)})
	wantAction(t, b, api.ActionDone, "nap")
	// The waiting time accrued no execution: only the seconds running.
	got, err := s.Complete(ctx, ws.ID, task.ID, 2, store.Outcome{Status: api.TaskFailed, Error: "x", Retryable: true, Now: t0.Add(4 * time.Second)})
	must(t, err, "Complete")
	if got.Status != api.TaskFailed {
		t.Errorf("status after a failure of the only counted attempt = %s", got.Status)
	}
	if got.ExecutionMS != 1000 {
		t.Errorf("execution = %d ms, want 1000 (none while waiting)", got.ExecutionMS)
	}
	// Retry from nap keeps the journal before it and runs from it.
	got, err = s.RetryTask(ctx, ws.ID, task.ID, "nap", t0.Add(5*time.Second))
	must(t, err, "RetryTask")
	if got.Status != api.TaskQueued {
		t.Errorf("retried = %s", got.Status)
	}
	steps, err := s.ListSteps(ctx, ws.ID, task.ID)
	must(t, err, "ListSteps")
	if len(steps) != 0 {
		t.Errorf("journal after retry from nap = %d steps", len(steps))
	}
	// Cancel works on a waiting task.
	claim(t, s, params(ws.ID, t0.Add(6*time.Second)))
	begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "nap", Kind: api.StepSleep, Until: t0.Add(time.Hour), Attempt: 3, Now: t0.Add(6 * time.Second)})
	got, err = s.CancelTask(ctx, ws.ID, task.ID, "no", t0.Add(7*time.Second))
	must(t, err, "CancelTask of a waiting task")
	if got.Status != api.TaskCancelled || got.WakeAt != nil {
		t.Errorf("cancelled = %s wake %v", got.Status, got.WakeAt)
	}
}

func testStepsAtMostOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "pay", AtMostOnce: true, Attempt: 1, Now: t0})
	_, err := s.ExpireLeases(ctx, t0.Add(time.Hour), nil)
	must(t, err, "ExpireLeases")
	claim(t, s, params(ws.ID, t0.Add(time.Hour)))
	b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "pay", AtMostOnce: true, Attempt: 2, Now: t0.Add(time.Hour)})
	wantAction(t, b, api.ActionSuspend, "pay")
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	if got.Status != api.TaskWaiting || got.StatusReason[:len(api.WaitOperator)] != api.WaitOperator {
		t.Errorf("task = %s %q, want waiting for an operator", got.Status, got.StatusReason)
	}
	// The operator retries: the step in flight runs again.
	_, err = s.RetryTask(ctx, ws.ID, task.ID, "", t0.Add(2*time.Hour))
	must(t, err, "RetryTask")
	claim(t, s, params(ws.ID, t0.Add(2*time.Hour)))
	b = begin(t, s, ws.ID, task.ID, store.StepBegin{Key: "pay", AtMostOnce: true, Attempt: 3, Now: t0.Add(2 * time.Hour)})
	wantAction(t, b, api.ActionRun, "pay")
}

func testStepsBudget(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := newTask(ws.ID)
	task.MaxCostMicros = 50_000
	task = createTask(t, s, task)
	if task.MaxCostMicros != 50_000 {
		t.Fatalf("MaxCostMicros = %d", task.MaxCostMicros)
	}
	claim(t, s, params(ws.ID, t0))
	budget := func(t store.Task, children int64, _ store.Consumed) (string, *time.Time) {
		if t.MaxCostMicros > 0 && t.CostMicros+children >= t.MaxCostMicros {
			return "task budget used up", nil
		}
		return "", nil
	}
	var spent int64
	for i := 1; i <= 3; i++ {
		key := fmt.Sprintf("s%d", i)
		b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: key, Attempt: 1, Now: t0, Budget: budget, Usage: &store.Usage{CostMicros: spent}})
		if i == 3 {
			wantAction(t, b, api.ActionSuspend, key)
			break
		}
		wantAction(t, b, api.ActionRun, key)
		spent += 30_000
		end(t, s, ws.ID, task.ID, store.StepEnd{Key: key, Attempt: 1, Usage: &store.Usage{CostMicros: spent}, Now: t0})
	}
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	if got.Status != api.TaskWaiting || got.StatusReason[:len(api.WaitBudget)] != api.WaitBudget {
		t.Fatalf("task = %s %q, want waiting for budget", got.Status, got.StatusReason)
	}
	raise, prio := int64(500_000), 7
	got, err = s.UpdateTask(ctx, ws.ID, task.ID, &raise, &prio, t0.Add(time.Second))
	must(t, err, "UpdateTask")
	if got.Status != api.TaskQueued || got.MaxCostMicros != raise || got.Priority != 7 {
		t.Errorf("updated = %s %d %d", got.Status, got.MaxCostMicros, got.Priority)
	}
	claim(t, s, params(ws.ID, t0.Add(2*time.Second)))
	for i, want := range []string{api.ActionDone, api.ActionDone, api.ActionRun} {
		b := begin(t, s, ws.ID, task.ID, store.StepBegin{Key: fmt.Sprintf("s%d", i+1), Attempt: 2, Now: t0.Add(2 * time.Second), Budget: budget})
		if b.Action != want {
			t.Errorf("s%d after the raise = %s, want %s", i+1, b.Action, want)
		}
	}
}

func testStepsSpawn(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	parent := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	child := newTask(ws.ID)
	child.Input = json.RawMessage(`{"x":1}`)
	b := begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "kid", Kind: api.StepSpawn, Child: &child, SpawnWait: true, Attempt: 1, Now: t0})
	wantAction(t, b, api.ActionSuspend, "kid")
	if b.Child.ParentID != parent.ID {
		t.Errorf("child parent = %q", b.Child.ParentID)
	}
	c := claim(t, s, params(ws.ID, t0.Add(time.Second)))
	if c.ID != child.ID {
		t.Fatalf("claimed %s, want the child %s", c.ID, child.ID)
	}
	done, err := s.Complete(ctx, ws.ID, child.ID, 1, store.Outcome{Status: api.TaskSucceeded, Output: json.RawMessage(`"kid out"`), Now: t0.Add(2 * time.Second)})
	must(t, err, "Complete child")
	p, woken, err := s.WakeParent(ctx, done, t0.Add(2*time.Second))
	must(t, err, "WakeParent")
	if !woken || p.Status != api.TaskQueued {
		t.Errorf("parent after the child = %s woken %v", p.Status, woken)
	}
	claim(t, s, params(ws.ID, t0.Add(3*time.Second)))
	b = begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "kid", Kind: api.StepSpawn, Child: &child, SpawnWait: true, Attempt: 2, Now: t0.Add(3 * time.Second)})
	wantAction(t, b, api.ActionDone, "kid")
	if string(b.Output) != `"kid out"` {
		t.Errorf("spawn output = %s", b.Output)
	}
}

// wantChildOutcome checks a join's output: the child's end signal data.
func wantChildOutcome(t *testing.T, got store.StepBegun, id, status, output, errText string) {
	t.Helper()
	var o api.ChildOutcome
	if got.Action != api.ActionDone || json.Unmarshal(got.Output, &o) != nil {
		t.Fatalf("join %s = %s %s (reason %q), want done with the child's outcome", got.Key, got.Action, got.Output, got.Reason)
	}
	if o.TaskID != id || o.Status != status || string(o.Output) != output || o.Error != errText {
		t.Errorf("join %s = %+v (output %s), want %s %s %s %q", got.Key, o, o.Output, id, status, output, errText)
	}
}

// testStepsChildSignal: a child's end delivers the signal child:<id> to
// its parent once (kept when the parent does not wait for it yet), a wait
// for it wakes the parent, a spawn that waits is woken once, and a parent
// that has ended ignores it.
func testStepsChildSignal(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	parent := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	a, b := newTask(ws.ID), newTask(ws.ID)
	for _, c := range []store.Task{a, b} {
		got := begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "spawn", Kind: api.StepSpawn, Child: &c, Attempt: 1, Now: t0})
		if got.Action != api.ActionDone || string(got.Output) != fmt.Sprintf(`{"task_id":%q}`, c.ID) {
			t.Fatalf("spawn without wait = %s %s", got.Action, got.Output)
		}
	}
	// b ends while the parent runs: its signal is kept, nothing wakes.
	cancelled, err := s.CancelTask(ctx, ws.ID, b.ID, "not needed", t0)
	must(t, err, "CancelTask b")
	for range 2 { // ending is reported twice: still one signal
		p, woken, err := s.WakeParent(ctx, cancelled, t0)
		must(t, err, "WakeParent b")
		if woken || p.Status != api.TaskRunning {
			t.Fatalf("parent after b = %s woken %v, want running, not woken", p.Status, woken)
		}
	}
	// The join of a waits; a's end wakes the parent, once.
	got := begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "join", Kind: api.StepWait, Signal: api.ChildSignal(a.ID), Attempt: 1, Now: t0})
	wantAction(t, got, api.ActionSuspend, "join")
	if got.Task.StatusReason != "signal: "+api.ChildSignal(a.ID) {
		t.Errorf("waiting parent's reason = %q", got.Task.StatusReason)
	}
	at := t0.Add(time.Second)
	if c := claim(t, s, params(ws.ID, at)); c.ID != a.ID {
		t.Fatalf("claimed %s, want child a %s", c.ID, a.ID)
	}
	done, err := s.Complete(ctx, ws.ID, a.ID, 1, store.Outcome{Status: api.TaskSucceeded, Output: json.RawMessage(`"A"`), Now: at})
	must(t, err, "Complete a")
	p, woken, err := s.WakeParent(ctx, done, at)
	must(t, err, "WakeParent a")
	if !woken || p.Status != api.TaskQueued {
		t.Fatalf("parent after a = %s woken %v, want queued", p.Status, woken)
	}
	if _, woken, err = s.WakeParent(ctx, done, at); err != nil || woken {
		t.Fatalf("WakeParent a again = woken %v, %v; want not woken", woken, err)
	}
	// Attempt 2 replays both spawns and joins both children at once; each
	// signal was delivered once.
	claim(t, s, params(ws.ID, at))
	for i, c := range []store.Task{a, b} {
		wantAction(t, begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "spawn", Kind: api.StepSpawn, Child: &c, Attempt: 2, Now: at}),
			api.ActionDone, []string{"spawn", "spawn#2"}[i])
	}
	wantChildOutcome(t, begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "join", Kind: api.StepWait, Signal: api.ChildSignal(a.ID), Attempt: 2, Now: at}),
		a.ID, api.TaskSucceeded, `"A"`, "")
	wantChildOutcome(t, begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "join", Kind: api.StepWait, Signal: api.ChildSignal(b.ID), Attempt: 2, Now: at}),
		b.ID, api.TaskCancelled, "null", "not needed")
	wantAction(t, begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "again", Kind: api.StepWait, Signal: api.ChildSignal(b.ID), Attempt: 2, Now: at}),
		api.ActionSuspend, "again")
	_, err = s.CancelTask(ctx, ws.ID, parent.ID, "done with it", at)
	must(t, err, "CancelTask parent")

	// A spawn that waits: its child's end wakes it once (the signal comes
	// too, for a join), and the replay answers the child's output.
	p2 := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, at))
	kid := newTask(ws.ID)
	wantAction(t, begin(t, s, ws.ID, p2.ID, store.StepBegin{Key: "kid", Kind: api.StepSpawn, Child: &kid, SpawnWait: true, Attempt: 1, Now: at}),
		api.ActionSuspend, "kid")
	claim(t, s, params(ws.ID, at))
	done, err = s.Complete(ctx, ws.ID, kid.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "boom", Now: at})
	must(t, err, "Complete kid")
	if p, woken, err := s.WakeParent(ctx, done, at); err != nil || !woken || p.Status != api.TaskQueued {
		t.Fatalf("spawn-waiting parent after its child = %s woken %v, %v", p.Status, woken, err)
	}
	if _, woken, err := s.WakeParent(ctx, done, at); err != nil || woken {
		t.Fatalf("spawn-waiting parent woken again = %v, %v", woken, err)
	}
	claim(t, s, params(ws.ID, at))
	got = begin(t, s, ws.ID, p2.ID, store.StepBegin{Key: "kid", Kind: api.StepSpawn, Child: &kid, SpawnWait: true, Attempt: 2, Now: at})
	if got.Action != api.ActionDone || got.Error == "" {
		t.Errorf("spawn replay after a failed child = %s %q, want done with its error", got.Action, got.Error)
	}
	wantChildOutcome(t, begin(t, s, ws.ID, p2.ID, store.StepBegin{Key: "join", Kind: api.StepWait, Signal: api.ChildSignal(kid.ID), Attempt: 2, Now: at}),
		kid.ID, api.TaskFailed, "null", "boom")

	// A parent that ended ignores its child's end, without an error.
	p3 := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, at))
	late := newTask(ws.ID)
	begin(t, s, ws.ID, p3.ID, store.StepBegin{Key: "late", Kind: api.StepSpawn, Child: &late, Attempt: 1, Now: at})
	_, err = s.CancelTask(ctx, ws.ID, p3.ID, "gave up", at)
	must(t, err, "CancelTask p3")
	ended, err := s.CancelTask(ctx, ws.ID, late.ID, "parent gone", at)
	must(t, err, "CancelTask late")
	if p, woken, err := s.WakeParent(ctx, ended, at); err != nil || woken || p.Status != api.TaskCancelled {
		t.Fatalf("ended parent after its child = %s woken %v, %v; want cancelled, no error", p.Status, woken, err)
	}
}

// testStepsChildSignalMissed: a child's end that never reached WakeParent
// (the server stopped between them) is found by the reaper's WakeDue for a
// join that waits for it, delivered by the replay, and still delivered
// once.
func testStepsChildSignalMissed(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	parent := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	a := newTask(ws.ID)
	begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "a", Kind: api.StepSpawn, Child: &a, Attempt: 1, Now: t0})
	join := store.StepBegin{Key: "join", Kind: api.StepWait, Signal: api.ChildSignal(a.ID), Attempt: 1, Now: t0}
	wantAction(t, begin(t, s, ws.ID, parent.ID, join), api.ActionSuspend, "join")
	at := t0.Add(time.Second)
	if woken, err := s.WakeDue(ctx, at); err != nil || len(woken) != 0 {
		t.Fatalf("WakeDue with the child running = %v, %v", woken, err)
	}
	claim(t, s, params(ws.ID, at))
	_, err := s.Complete(ctx, ws.ID, a.ID, 1, store.Outcome{Status: api.TaskSucceeded, Output: json.RawMessage(`1`), Now: at})
	must(t, err, "Complete a")
	woken, err := s.WakeDue(ctx, at)
	must(t, err, "WakeDue")
	if len(woken) != 1 || woken[0].ID != parent.ID || woken[0].Status != api.TaskQueued {
		t.Fatalf("WakeDue after the child's missed end = %+v, want the parent queued", woken)
	}
	claim(t, s, params(ws.ID, at))
	begin(t, s, ws.ID, parent.ID, store.StepBegin{Key: "a", Kind: api.StepSpawn, Child: &a, Attempt: 2, Now: at})
	join.Attempt = 2
	wantChildOutcome(t, begin(t, s, ws.ID, parent.ID, join), a.ID, api.TaskSucceeded, "1", "")
	// Delivered once: a second join waits, WakeDue does not wake it for
	// the same end, nor does the late WakeParent.
	join.Key = "again"
	wantAction(t, begin(t, s, ws.ID, parent.ID, join), api.ActionSuspend, "again")
	if woken, err := s.WakeDue(ctx, at); err != nil || len(woken) != 0 {
		t.Fatalf("WakeDue after the end was delivered = %v, %v; want none", woken, err)
	}
	done, err := s.GetTask(ctx, ws.ID, a.ID)
	must(t, err, "GetTask a")
	if _, woken, err := s.WakeParent(ctx, done, at); err != nil || woken {
		t.Fatalf("the late WakeParent = woken %v, %v; want not woken", woken, err)
	}
}
