package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// machine describes the host for the report's header.
func machine(ctx context.Context, pgURL string) string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	pgv := "PostgreSQL unreachable"
	if c, err := pgx.Connect(ctx, pgURL); err == nil {
		var v, av, nap string
		if c.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('autovacuum'), current_setting('autovacuum_naptime')").Scan(&v, &av, &nap) == nil {
			// Autovacuum decides how long a busy queue's dead rows stay
			// (docs/self-hosting.md#vacuum); CI machines may run without it.
			pgv = fmt.Sprintf("PostgreSQL %s (autovacuum %s, naptime %s)", v, av, nap)
		}
		c.Close(ctx)
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s %s/%s, %s, SQLite (modernc) in a temp dir",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, pgv)
}

// pgDatabase is a fresh database on the PostgreSQL server of base, dropped
// by drop: the suite never touches the databases tests use.
type pgDatabase struct {
	name, url, admin string
}

func newPGDatabase(ctx context.Context, base, tag string) (*pgDatabase, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("baton_bench_%s_%d_%d", tag, os.Getpid(), time.Now().UnixNano()%1e6)
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", u.Redacted(), err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	v := *u
	v.Path = "/" + name
	return &pgDatabase{name: name, url: v.String(), admin: base}, nil
}

func (d *pgDatabase) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: drop database:", err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
		fmt.Fprintln(os.Stderr, "bench: drop database:", err)
	}
}

// backendCPU sums the CPU time (user+system) of the PostgreSQL backends
// connected to database name, read from /proc/PID/stat. Backends that
// ended are not counted, so callers sample while their pools are open.
func backendCPU(ctx context.Context, admin, name string) map[int]time.Duration {
	out := map[int]time.Duration{}
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return out
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "select pid from pg_stat_activity where datname = $1", name)
	if err != nil {
		return out
	}
	pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
	for _, pid := range pids {
		if d, ok := procCPU(int(pid)); ok {
			out[int(pid)] = d
		}
	}
	return out
}

// cpuDelta is the CPU the backends of after used since before.
func cpuDelta(before, after map[int]time.Duration) time.Duration {
	var sum time.Duration
	for pid, a := range after {
		sum += a - before[pid]
	}
	return sum
}

// procCPU reads utime+stime of a process (clock ticks of 10 ms).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

// selfCPU is this process's CPU time so far (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKB is this process's resident set size in KiB (VmRSS).
func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// stmtProxy is a TCP proxy between a client and PostgreSQL that counts the
// statements the client sends — each extended protocol Execute ('E')
// message, and each statement of a simple Query ('Q') message, which may
// hold several ("BEGIN; SELECT …") — and its round trips: each Sync ('S')
// and each simple Query, after which the client waits for the server's
// ReadyForQuery. It reads the frontend protocol only, so it works whatever
// the store's SQL is. SSL must be off (sslmode=disable).
type stmtProxy struct {
	ln                     net.Listener
	target                 string
	statements, roundTrips atomic.Int64
	wg                     sync.WaitGroup
}

func newStmtProxy(target string) (*stmtProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &stmtProxy{ln: ln, target: target}
	go p.accept()
	return p, nil
}

// url rewrites the database URL u to go through the proxy.
func (p *stmtProxy) url(u string) string {
	v, _ := url.Parse(u)
	v.Host = p.ln.Addr().String()
	return v.String()
}

func (p *stmtProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer s.Close()
			go func() { io.Copy(c, s); c.Close() }()
			countFrontend(c, s, &p.statements, &p.roundTrips)
			s.Close()
		}()
	}
}

func (p *stmtProxy) close() { p.ln.Close() }

// countFrontend copies the frontend stream from r to w message by message,
// adding to stmts the statements of each Query or Execute message and to
// trips one per Query or Sync message. The first message (startup, or an
// SSL/GSS request followed by startup) has no type byte.
func countFrontend(r io.Reader, w io.Writer, stmts, trips *atomic.Int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, 8)
	for { // untyped messages: length, code; SSLRequest/GSSENCRequest repeat
		if _, err := io.ReadFull(br, hdr); err != nil {
			return err
		}
		l := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:])
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if _, err := io.CopyN(w, br, int64(l-8)); err != nil {
			return err
		}
		if code != 80877103 && code != 80877104 { // not SSL/GSS request: startup done
			break
		}
	}
	h := make([]byte, 5)
	var body []byte
	for {
		if _, err := io.ReadFull(br, h); err != nil {
			return err
		}
		l := int(binary.BigEndian.Uint32(h[1:]))
		if _, err := w.Write(h); err != nil {
			return err
		}
		switch h[0] {
		case 'Q':
			body = slices.Grow(body[:0], l-4)[:l-4]
			if _, err := io.ReadFull(br, body); err != nil {
				return err
			}
			stmts.Add(int64(queryStatements(body)))
			trips.Add(1)
			if _, err := w.Write(body); err != nil {
				return err
			}
			continue
		case 'E':
			stmts.Add(1)
		case 'S':
			trips.Add(1)
		}
		if _, err := io.CopyN(w, br, int64(l-4)); err != nil {
			return err
		}
	}
}

// queryStatements is how many statements a simple Query message's text
// (NUL-terminated) holds: its parts between semicolons that are not blank.
// baton's simple queries have no semicolon in a literal.
func queryStatements(q []byte) int {
	n := 0
	for part := range bytes.SplitSeq(bytes.TrimRight(q, "\x00"), []byte(";")) {
		if len(bytes.TrimSpace(part)) > 0 {
			n++
		}
	}
	return n
}

// hostPort is the host:port of a postgres URL.
func hostPort(u string) string {
	v, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if v.Port() == "" {
		return v.Hostname() + ":5432"
	}
	return v.Host
}
