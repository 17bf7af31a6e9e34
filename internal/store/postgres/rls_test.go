package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// nonTenantTables are the tables of the schema that hold no tenant's
// rows, so carry no row-level security policy.
var nonTenantTables = []string{"goose_db_version"}

// fillTenant gives workspace name a row in every tenant table through the
// store's own API, and returns the workspace.
func fillTenant(t *testing.T, s *postgres.Store, name string, now time.Time) store.Workspace {
	t.Helper()
	ctx := t.Context()
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: name, Tier: "free", Status: api.WorkspaceActive,
		CreatedAt: now, UpdatedAt: now}
	key := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k", Prefix: "bk_" + name,
		Hash: []byte("hash-" + name), Scopes: []string{"*"}, CreatedAt: now}
	audit := store.AuditEvent{ID: ids.New(ids.Audit), WorkspaceID: ws.ID, Actor: "system", Action: "workspace.created",
		Target: ws.ID, CreatedAt: now}
	if err := s.CreateWorkspace(ctx, ws, key, audit); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	task := store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: "q", Input: json.RawMessage(`{}`),
		MaxAttempts: 3, RunAt: now, CreatedAt: now}
	if _, _, err := s.CreateTask(ctx, task, nil); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	got, err := s.ClaimTasks(ctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{"q"}, WorkerID: "w-" + name,
		Now: now, Lease: time.Minute})
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimTasks = %v, %v", got, err)
	}
	if _, err := s.BeginStep(ctx, ws.ID, task.ID, store.StepBegin{Key: "fetch", Attempt: 1, Kind: api.StepRun,
		Now: now, Lease: time.Minute}); err != nil {
		t.Fatalf("BeginStep: %v", err)
	}
	if _, _, _, err := s.SendSignal(ctx, ws.ID, task.ID, store.Signal{ID: ids.New("sig"), Name: "approve",
		Data: json.RawMessage(`{}`), CreatedAt: now}); err != nil {
		t.Fatalf("SendSignal: %v", err)
	}
	if _, err := s.RecordUsage(ctx, store.UsageEvent{ID: ids.New("use"), WorkspaceID: ws.ID, Metric: store.MetricTokens,
		Value: 10, At: now, TaskID: task.ID}); err != nil {
		t.Fatalf("RecordUsage: %v", err)
	}
	if _, err := s.RaiseAlert(ctx, store.Alert{ID: ids.New(ids.Alert), WorkspaceID: ws.ID, Kind: api.AlertThreshold,
		Metric: "executions", Threshold: 80, Period: now.Format("2006-01"), Value: 80, Limit: 100, Message: "80%",
		CreatedAt: now}); err != nil {
		t.Fatalf("RaiseAlert: %v", err)
	}
	if err := s.SeenWorker(ctx, store.Worker{WorkspaceID: ws.ID, ID: "w-" + name, Host: "h", Version: "test",
		Queues: []string{"q"}, Concurrency: 1, LastSeenAt: now}); err != nil {
		t.Fatalf("SeenWorker: %v", err)
	}
	return ws
}

// TestRowLevelSecurity proves the second wall: statements that forget
// their workspace predicate, sent through the store's own path under a
// tenant's scope, see and change only that tenant's rows, in every tenant
// table; with no setting at all they see nothing; and no table of the
// schema is left without a policy.
func TestRowLevelSecurity(t *testing.T) {
	u := schemaURL(t)
	s := openURL(t, u)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	a, b := fillTenant(t, s, "alpha", now), fillTenant(t, s, "beta", now)
	both := []string{a.ID, b.ID}
	slices.Sort(both)

	// Every table is a tenant table or named as holding no tenant data.
	tables, err := s.ScopedStrings(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if _, ok := postgres.TenantTables[tb]; !ok && !slices.Contains(nonTenantTables, tb) {
			t.Errorf("table %s has no row-level security policy: add it to tenantTables and a migration, or to nonTenantTables", tb)
		}
	}
	for tb := range postgres.TenantTables {
		if !slices.Contains(tables, tb) {
			t.Errorf("tenantTables names %s, which the schema does not have", tb)
		}
	}

	raw, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())

	for tb, col := range postgres.TenantTables {
		sel := `SELECT DISTINCT ` + col + `::text FROM ` + tb + ` WHERE ` + col + ` <> '' ORDER BY 1`
		for _, c := range []struct {
			name  string
			scope store.Scope
			want  []string
		}{
			{"tenant alpha", store.TenantScope(a.ID), []string{a.ID}},
			{"tenant beta", store.TenantScope(b.ID), []string{b.ID}},
			{"both tenants", store.TenantScope(a.ID, b.ID), both},
			{"system", store.SystemScope(), both},
		} {
			got, err := s.ScopedStrings(store.WithScope(ctx, c.scope), sel)
			if err != nil {
				t.Fatalf("%s under %s: %v", tb, c.name, err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s under %s sees workspaces %v, want %v", tb, c.name, got, c.want)
			}
		}
		// A context without a scope is system work.
		if got, err := s.ScopedStrings(ctx, sel); err != nil || !slices.Equal(got, both) {
			t.Errorf("%s without a scope sees %v, %v; want %v", tb, got, err, both)
		}
		// A connection that sets nothing sees nothing: the wall fails closed.
		var n int
		if err := raw.QueryRow(ctx, `SELECT count(*) FROM `+tb).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s with no setting: %d rows, %v; want 0", tb, n, err)
		}
		// An UPDATE with no predicate changes only the tenant's rows.
		var all, mine int64
		sys, err := s.ScopedStrings(ctx, `SELECT count(*)::text FROM `+tb)
		if err != nil {
			t.Fatal(err)
		}
		all, _ = strconv.ParseInt(sys[0], 10, 64)
		mine, err = s.ScopedExec(store.WithScope(ctx, store.TenantScope(a.ID)), `UPDATE `+tb+` SET `+col+` = `+col)
		if err != nil {
			t.Fatalf("update %s: %v", tb, err)
		}
		n0, err := s.ScopedStrings(store.WithScope(ctx, store.TenantScope(a.ID)), `SELECT count(*)::text FROM `+tb)
		if err != nil {
			t.Fatal(err)
		}
		alphas, _ := strconv.ParseInt(n0[0], 10, 64)
		if all <= alphas {
			t.Errorf("%s: %d rows in all, %d of them alpha's: beta's are missing", tb, all, alphas)
		}
		if mine != alphas {
			t.Errorf("UPDATE %s with no predicate under alpha's scope changed %d rows; alpha has %d", tb, mine, alphas)
		}
	}

	// A tenant cannot move a row into another workspace, nor write one there.
	_, err = s.ScopedExec(store.WithScope(ctx, store.TenantScope(a.ID)), `UPDATE tasks SET workspace_id = $1`, b.ID)
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("moving alpha's task to beta under alpha's scope: %v, want a row-level security violation (42501)", err)
	}
	alphaCtx := store.WithScope(ctx, store.TenantScope(a.ID))
	err = s.SeenWorker(alphaCtx, store.Worker{WorkspaceID: b.ID, ID: "intruder", Host: "h", Version: "v",
		Queues: []string{"q"}, Concurrency: 1, LastSeenAt: now})
	if err == nil {
		t.Errorf("SeenWorker of beta's worker under alpha's scope succeeded")
	}
	if ws, err := s.ListWorkers(ctx, b.ID, now.Add(-time.Hour)); err != nil || slices.ContainsFunc(ws, func(w store.Worker) bool { return w.ID == "intruder" }) {
		t.Errorf("beta's workers = %v, %v; the intruder must not be there", ws, err)
	}
	if _, err := s.GetWorkspace(store.WithScope(ctx, store.TenantScope(a.ID)), b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWorkspace(beta) under alpha's scope: %v, want ErrNotFound", err)
	}
}

// TestInForce: as a role that owns the tables but is neither superuser nor
// BYPASSRLS, row-level security is in force; as the superuser of the test
// database's URL it is not, and the reason says so.
func TestInForce(t *testing.T) {
	u := schemaURL(t)
	s := openURL(t, u)
	ctx := t.Context()
	if ok, _, err := s.InForce(ctx); err != nil || ok {
		t.Errorf("InForce before migrating = %v, %v; want false", ok, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ok, why, err := s.InForce(ctx)
	if err != nil || !ok || !strings.Contains(why, testutil.PostgresRole) {
		t.Errorf("InForce = %v, %q, %v; want true naming %s", ok, why, err, testutil.PostgresRole)
	}
	admin := testutil.PostgresURL(t, testutil.PostgresAdminURL(t), "postgres", testutil.PostgresSchemaOf(t, u))
	sa := openURL(t, admin)
	ok, why, err = sa.InForce(ctx)
	if err != nil || ok || !strings.Contains(why, "superuser") {
		t.Errorf("InForce as postgres = %v, %q, %v; want false, a superuser", ok, why, err)
	}
}

// TestOpenRefusesAScopeInTheURL: a session-wide baton.workspace_id would
// widen what every transaction sees; Open refuses it.
func TestOpenRefusesAScopeInTheURL(t *testing.T) {
	u := schemaURL(t)
	_, err := postgres.Open(t.Context(), u+"&baton.workspace_id=*", 1)
	if err == nil || !strings.Contains(err.Error(), "baton.workspace_id") {
		t.Fatalf("Open with baton.workspace_id in the URL = %v; want refused", err)
	}
}

// TestNonOwnerRole runs the store as a role that owns nothing and has no
// BYPASSRLS, after Grant: tasks go through their life, row-level security
// is in force, and the role can neither migrate nor drop a table.
func TestNonOwnerRole(t *testing.T) {
	u := schemaURL(t)
	owner := openURL(t, u)
	ctx := t.Context()
	if err := owner.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const role = "baton_test_app"
	testutil.PostgresCreateRole(t, role)
	if err := owner.Grant(ctx, role); err != nil {
		t.Fatalf("Grant: %v", err)
	}
	app := openURL(t, testutil.PostgresURL(t, testutil.PostgresAdminURL(t), role, testutil.PostgresSchemaOf(t, u)))
	if ok, why, err := app.InForce(ctx); err != nil || !ok {
		t.Errorf("InForce as %s = %v, %q, %v", role, ok, why, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ws := fillTenant(t, app, "app", now)
	tasks, err := app.ListTasks(store.Tenant(ctx, ws.ID), ws.ID, store.TaskFilter{}, store.Page{Limit: 10})
	if err != nil || len(tasks) != 1 {
		t.Errorf("ListTasks as %s = %v, %v", role, tasks, err)
	}
	if _, err := app.ScopedExec(ctx, `DROP TABLE tasks CASCADE`); err == nil {
		t.Errorf("%s dropped a table it does not own", role)
	}
	if _, err := app.ScopedExec(ctx, `DELETE FROM goose_db_version`); err == nil {
		t.Errorf("%s changed goose's version table", role)
	}
}
