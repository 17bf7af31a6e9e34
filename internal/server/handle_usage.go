package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// Usage reports, quota snapshots and their stream.

const (
	// maxUsageRange bounds GET /v1/usage: ~13 months by day, 31 days by hour.
	maxUsageRangeDay  = 400 * 24 * time.Hour
	maxUsageRangeHour = 31 * 24 * time.Hour
	// usageStreamGap is the least time between two snapshot reads of a
	// stream, so at most 4 snapshots a second; usageStreamPoll how often a
	// stream looks for changes nobody announced (API calls metered by
	// other replicas, the api_rate window sliding).
	usageStreamGap  = 250 * time.Millisecond
	usageStreamPoll = time.Second
)

// limits are ws's effective limits: its tier's with its overrides.
func (s *Server) limits(ws store.Workspace) api.Limits {
	return s.tier(ws.Tier).Limits.Apply(ws.Overrides)
}

// quota builds ws's quota snapshot now.
func (s *Server) quota(ctx context.Context, ws store.Workspace) (api.Quota, error) {
	now := s.now()
	// Three independent reads, at the same time: the answer waits for one
	// store round trip, not three.
	var (
		totals          map[string]int64
		running, queued int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		totals, err = s.store.UsageTotals(gctx, ws.ID, now)
		return err
	})
	g.Go(func() (err error) {
		running, err = s.store.CountTasks(gctx, ws.ID, api.TaskRunning)
		return err
	})
	g.Go(func() (err error) {
		queued, err = s.store.CountTasks(gctx, ws.ID, api.TaskQueued)
		return err
	})
	if err := g.Wait(); err != nil {
		return api.Quota{}, err
	}
	return s.snapshot(ws, totals, running, queued, now), nil
}

func (s *Server) snapshot(ws store.Workspace, totals map[string]int64, running, queued int, now time.Time) api.Quota {
	return metering.Snapshot(metering.State{Workspace: ws, Limits: s.limits(ws), Totals: totals,
		Running: int64(running), Queued: int64(queued), APIRate: s.recorder.Rate(ws.ID), Now: now})
}

func (s *Server) handleQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	q, err := s.quota(r.Context(), *p.workspace)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, q)
	return nil
}

// parseUsageTime reads a from/to parameter: RFC 3339, or a date (UTC).
func parseUsageTime(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	pr := api.Errorf(api.CodeInvalidRequest, "%s %q must be an RFC 3339 time or a date (YYYY-MM-DD)", name, v)
	pr.Errors = []api.FieldError{{Field: name, Message: "must be an RFC 3339 time or a date"}}
	return time.Time{}, pr
}

func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	q := r.URL.Query()
	now := s.now()
	from, to, gran := store.UsagePeriod(now), now, q.Get("granularity")
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = parseUsageTime("from", v); err != nil {
			return err
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = parseUsageTime("to", v); err != nil {
			return err
		}
	}
	maxRange := maxUsageRangeDay
	switch gran {
	case "", api.GranularityDay:
		gran = api.GranularityDay
	case api.GranularityHour:
		maxRange = maxUsageRangeHour
	default:
		pr := api.Errorf(api.CodeInvalidRequest, "granularity %q must be hour or day", gran)
		pr.Errors = []api.FieldError{{Field: "granularity", Message: "must be hour or day"}}
		return pr
	}
	if !from.Before(to) {
		pr := api.Errorf(api.CodeInvalidRequest, "from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
		pr.Errors = []api.FieldError{{Field: "from", Message: "must be before to"}}
		return pr
	}
	if to.Sub(from) > maxRange {
		pr := api.Errorf(api.CodeInvalidRequest, "a %s report spans at most %d days", gran, int(maxRange/(24*time.Hour)))
		pr.Errors = []api.FieldError{{Field: "from", Message: "range too long"}}
		return pr
	}
	points, err := s.store.UsageSeries(r.Context(), p.workspaceID, from, to, gran)
	if err != nil {
		return err
	}
	out := api.UsageSeries{WorkspaceID: p.workspaceID, From: from, To: to, Granularity: gran,
		Series: map[string][]api.UsagePoint{}, Totals: map[string]int64{}}
	for _, m := range api.UsageMetrics {
		out.Series[m] = []api.UsagePoint{}
		out.Totals[m] = 0
	}
	for _, pt := range points {
		out.Series[pt.Metric] = append(out.Series[pt.Metric], api.UsagePoint{Start: pt.Start, Value: pt.Value})
		out.Totals[pt.Metric] += pt.Value
	}
	encode(w, http.StatusOK, out)
	return nil
}

// handleUsageStream sends the workspace's quota snapshot as an SSE event
// "quota" whenever it changes (at most 4 per second), and a keep-alive
// comment every 15 s. Snapshots are absolute, so a client that reconnects
// loses nothing and counts nothing twice; its Last-Event-ID is not needed.
func (s *Server) handleUsageStream(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	ctx := r.Context()
	ws := *p.workspace
	first, err := s.quota(ctx, ws)
	if err != nil {
		return err
	}
	release, err := s.streams.acquire(w, ws.ID, s.limits(ws).MaxOpenStreams)
	if err != nil {
		return err
	}
	defer release()
	st := s.openSSE(w)
	defer st.close()
	var (
		last     []byte
		lastRead = time.Now()
		q        = first
	)
	for {
		changed, done := s.tasks.Subscribe(tasks.WorkspaceTopic(ws.ID))
		if key := snapshotKey(q); string(key) != string(last) {
			if !st.send(strconv.FormatInt(q.At.UnixNano(), 10), "quota", q) {
				done()
				return nil
			}
			st.flush()
			last = key
		}
		alive := st.wait(ctx, usageStreamPoll, changed, nil)
		done()
		if !alive {
			return nil
		}
		// Every task change and API-call flush of the workspace wakes its
		// streams: read at most every usageStreamGap, so a stream costs at
		// most 4 snapshot reads (and sends at most 4 snapshots) a second
		// however busy the workspace is; the changes in between are in
		// the next read.
		if gap := usageStreamGap - time.Since(lastRead); gap > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(gap):
			}
		}
		lastRead = time.Now()
		cur, err := s.store.GetWorkspace(ctx, ws.ID)
		if err != nil {
			return nil // deleted, or ctx ended
		}
		ws = cur // a tier or override change shows at once
		if q, err = s.quota(ctx, ws); err != nil {
			return nil
		}
	}
}

// snapshotKey is what makes two snapshots different: everything but the
// time they were taken.
func snapshotKey(q api.Quota) []byte {
	q.At, q.ResetsIn = time.Time{}, 0
	b, _ := json.Marshal(q)
	return b
}

// handleAdminUsage builds every workspace's snapshot from four queries
// (workspaces, the period's rollups, running and queued counts), however
// many workspaces there are.
func (s *Server) handleAdminUsage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	now := s.now()
	totals, err := s.store.AllUsageTotals(ctx, now)
	if err != nil {
		return err
	}
	running, err := s.store.CountAllTasks(ctx, api.TaskRunning)
	if err != nil {
		return err
	}
	queued, err := s.store.CountAllTasks(ctx, api.TaskQueued)
	if err != nil {
		return err
	}
	out := []api.Quota{}
	err = s.eachWorkspace(ctx, func(ws store.Workspace) error {
		out = append(out, s.snapshot(ws, totals[ws.ID], running[ws.ID], queued[ws.ID], now))
		return nil
	})
	if err != nil {
		return err
	}
	sortByPercent(out)
	encode(w, http.StatusOK, api.List[api.Quota]{Data: out})
	return nil
}

// sortByPercent orders snapshots closest to a limit first, then by id.
func sortByPercent(qs []api.Quota) {
	slices.SortFunc(qs, func(a, b api.Quota) int {
		return cmp.Or(cmp.Compare(b.MaxPercent(), a.MaxPercent()), cmp.Compare(a.WorkspaceID, b.WorkspaceID))
	})
}

// eachWorkspace calls fn for every workspace, in id order, a page at a time.
func (s *Server) eachWorkspace(ctx context.Context, fn func(store.Workspace) error) error {
	after := ""
	for {
		page, err := s.store.ListWorkspaces(ctx, store.Page{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, ws := range page {
			if err := fn(ws); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Server) handleAdminCosts(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	period := store.UsagePeriod(s.now())
	if v := r.URL.Query().Get("period"); v != "" {
		t, err := time.Parse("2006-01", v)
		if err != nil {
			pr := api.Errorf(api.CodeInvalidRequest, "period %q must be YYYY-MM", v)
			pr.Errors = []api.FieldError{{Field: "period", Message: "must be YYYY-MM"}}
			return pr
		}
		period = t
	}
	totals, err := s.store.AllUsageTotals(ctx, period)
	if err != nil {
		return err
	}
	var rows []api.WorkspaceCost
	err = s.eachWorkspace(ctx, func(ws store.Workspace) error {
		rows = append(rows, metering.Cost(ws, s.tier(ws.Tier), totals[ws.ID], s.cfg.Rates))
		return nil
	})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, metering.CostReport(period.Format("2006-01"), rows))
	return nil
}
