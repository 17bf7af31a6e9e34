package metering

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/version"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/backoff"
)

// HeaderAlertID carries the alert id on each webhook request, so that a
// receiver can drop the duplicates a retry may bring.
const HeaderAlertID = "Baton-Alert-Id"

// Defaults of WebhookConfig.
const (
	DefaultWebhookQueueSize   = 1000
	DefaultWebhookMaxAttempts = 5
	DefaultWebhookBaseDelay   = time.Second
	DefaultWebhookMaxDelay    = time.Minute
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookDrainGrace  = 5 * time.Second
)

// WebhookHooks are called as deliveries end, for metrics; nil ones are
// skipped. target is the webhook URL reduced to scheme://host (paths and
// queries of webhook URLs often hold secrets). They must not block.
type WebhookHooks struct {
	Delivered func(target string) // a 2xx response
	Failed    func(target string) // given up: a 4xx, attempts used up, or shutdown mid-retry
	Dropped   func(target string) // never tried: the queue was full or the notifier stopped
}

// WebhookConfig configures a Notifier. A zero field takes its default.
type WebhookConfig struct {
	URLs        []string      // absolute http(s) URLs; each gets its own queue and worker
	QueueSize   int           // alerts waiting per URL; more are dropped
	MaxAttempts int           // tries per alert and URL
	BaseDelay   time.Duration // backoff before the second try; doubles per try
	MaxDelay    time.Duration // backoff cap (a Retry-After is capped too)
	Timeout     time.Duration // per attempt
	DrainGrace  time.Duration // how long Run keeps delivering after ctx is done
	Client      *http.Client  // default: one that follows no redirects
	Logger      *slog.Logger  // default: slog.Default()
	Hooks       WebhookHooks
	// Sleep waits d or until ctx is done (then returning its error);
	// tests inject one. Jitter returns a number in [0, 1).
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func() float64
}

// Notifier POSTs alerts as JSON (api.Alert) to webhook URLs without ever
// blocking its caller: Enqueue only queues, and Run's workers, one per URL,
// deliver with retries, so a slow or failing receiver delays only itself.
type Notifier struct {
	cfg     WebhookConfig
	targets []*webhookTarget
	dropped atomic.Int64
	started atomic.Bool

	mu      sync.RWMutex // Enqueue reads stopped and sends under RLock
	stopped bool         // Run is ending: drop instead of queueing
}

type webhookTarget struct {
	url   string
	name  string // scheme://host, for logs and hooks
	queue chan webhookItem
}

type webhookItem struct {
	id   string
	body []byte
}

// NewNotifier checks cfg and returns a Notifier; call Run to deliver. An
// error if a URL is not an absolute http or https URL.
func NewNotifier(cfg WebhookConfig) (*Notifier, error) {
	cfg = cfg.withDefaults()
	n := &Notifier{cfg: cfg}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook url %q: want an absolute http(s) URL", redact(raw))
		}
		n.targets = append(n.targets, &webhookTarget{
			url: raw, name: u.Scheme + "://" + u.Host, queue: make(chan webhookItem, cfg.QueueSize),
		})
	}
	return n, nil
}

func (c WebhookConfig) withDefaults() WebhookConfig {
	pos := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultWebhookQueueSize
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultWebhookMaxAttempts
	}
	pos(&c.BaseDelay, DefaultWebhookBaseDelay)
	pos(&c.MaxDelay, DefaultWebhookMaxDelay)
	pos(&c.Timeout, DefaultWebhookTimeout)
	pos(&c.DrainGrace, DefaultWebhookDrainGrace)
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	return c
}

// Enqueue queues a for every URL and reports whether every queue took it.
// It never blocks: a full queue, or a notifier whose Run has ended, drops
// the alert for that URL (counted in Dropped and the Dropped hook).
func (n *Notifier) Enqueue(a store.Alert) bool {
	body, err := json.Marshal(ToAPI(a))
	if err != nil { // only a non-finite Value or Limit, which the store refuses
		n.cfg.Logger.Error("webhook: encode alert", "alert", a.ID, "err", err)
		for _, t := range n.targets {
			n.drop(t)
		}
		return false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	ok := true
	for _, t := range n.targets {
		if n.stopped {
			n.drop(t)
			ok = false
			continue
		}
		select {
		case t.queue <- webhookItem{id: a.ID, body: body}:
		default:
			n.cfg.Logger.Warn("webhook: queue full, alert dropped", "target", t.name, "alert", a.ID)
			n.drop(t)
			ok = false
		}
	}
	return ok
}

// Dropped counts the deliveries dropped so far (one per alert and URL).
func (n *Notifier) Dropped() int64 { return n.dropped.Load() }

func (n *Notifier) drop(t *webhookTarget) {
	n.dropped.Add(1)
	if f := n.cfg.Hooks.Dropped; f != nil {
		f(t.name)
	}
}

// Run delivers queued alerts until ctx is done, then keeps delivering what
// is queued for at most DrainGrace (in-flight requests and retries
// included), drops the rest and returns nil. Alerts enqueued after that are
// dropped. Run may be called once; a second call returns an error.
func (n *Notifier) Run(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("webhook notifier: Run called twice")
	}
	// deliverCtx outlives ctx by the grace period.
	deliverCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		n.stop()
		t := time.AfterFunc(n.cfg.DrainGrace, cancel)
		context.AfterFunc(deliverCtx, func() { t.Stop() })
	})
	defer stop()

	var wg sync.WaitGroup
	for _, t := range n.targets {
		wg.Go(func() { n.work(ctx, deliverCtx, t) })
	}
	wg.Wait()
	// An Enqueue may have slipped in after a worker's last look.
	n.stop()
	for _, t := range n.targets {
		for len(t.queue) > 0 {
			it := <-t.queue
			n.cfg.Logger.Warn("webhook: shut down before delivery, alert dropped", "target", t.name, "alert", it.id)
			n.drop(t)
		}
	}
	return nil
}

// stop makes Enqueue drop from now on.
func (n *Notifier) stop() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
}

// work delivers t's queue in order until ctx is done, then drains it while
// deliverCtx lasts.
func (n *Notifier) work(ctx, deliverCtx context.Context, t *webhookTarget) {
	for ctx.Err() == nil {
		select {
		case it := <-t.queue:
			n.deliver(deliverCtx, t, it)
		case <-ctx.Done():
		}
	}
	for {
		select {
		case it := <-t.queue:
			if deliverCtx.Err() != nil {
				n.cfg.Logger.Warn("webhook: shut down before delivery, alert dropped", "target", t.name, "alert", it.id)
				n.drop(t)
				continue
			}
			n.deliver(deliverCtx, t, it)
		default:
			return
		}
	}
}

// deliver POSTs it to t, retrying network errors, 429 and 5xx with
// backoff until MaxAttempts or ctx ends.
func (n *Notifier) deliver(ctx context.Context, t *webhookTarget, it webhookItem) {
	log := n.cfg.Logger.With("target", t.name, "alert", it.id)
	for attempt := 1; ; attempt++ {
		retryAfter, retry, err := n.post(ctx, t, it)
		if err == nil {
			log.Debug("webhook delivered", "attempt", attempt)
			if f := n.cfg.Hooks.Delivered; f != nil {
				f(t.name)
			}
			return
		}
		if retry && attempt < n.cfg.MaxAttempts {
			d := min(max(n.backoff(attempt), retryAfter), n.cfg.MaxDelay)
			log.Warn("webhook failed, retrying", "attempt", attempt, "in", d, "err", err)
			if n.cfg.Sleep(ctx, d) == nil {
				continue
			}
			err = fmt.Errorf("%w (shutting down)", err)
		}
		log.Error("webhook failed, giving up", "attempt", attempt, "err", err)
		if f := n.cfg.Hooks.Failed; f != nil {
			f(t.name)
		}
		return
	}
}

// post makes one attempt. retry reports whether another may succeed;
// retryAfter is the receiver's Retry-After (0 if none).
func (n *Notifier) post(ctx context.Context, t *webhookTarget, it webhookItem) (retryAfter time.Duration, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(it.body))
	if err != nil {
		return 0, false, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "baton/"+version.Version)
	req.Header.Set(HeaderAlertID, it.id)
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, which may hold a secret
		}
		return 0, true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, false, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After")), true, fmt.Errorf("status %d", code)
	default:
		return 0, false, fmt.Errorf("status %d", code)
	}
}

// backoff is the wait after attempt (1-based): BaseDelay doubled per
// attempt, capped at MaxDelay, with "equal jitter": a random point in its
// upper half, so that retries of many alerts spread out.
func (n *Notifier) backoff(attempt int) time.Duration {
	return backoff.Policy{Base: n.cfg.BaseDelay, Max: n.cfg.MaxDelay, Jitter: backoff.Equal, Rand: n.cfg.Jitter}.Delay(attempt)
}

// parseRetryAfter reads a Retry-After of delay seconds (HTTP dates are
// ignored: receivers that rate-limit send seconds).
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.Atoi(v)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(min(s, 24*60*60)) * time.Second
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redact reduces a URL to scheme://host for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "…"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// ToAPI is the wire form of a stored alert.
func ToAPI(a store.Alert) api.Alert {
	out := api.Alert{
		ID:          a.ID,
		WorkspaceID: a.WorkspaceID,
		Kind:        a.Kind,
		Metric:      a.Metric,
		Threshold:   a.Threshold,
		Period:      a.Period,
		Value:       a.Value,
		Limit:       a.Limit,
		Message:     a.Message,
		CreatedAt:   a.CreatedAt.UTC(),
	}
	if a.AckedAt != nil {
		t := a.AckedAt.UTC()
		out.AckedAt = &t
	}
	return out
}
