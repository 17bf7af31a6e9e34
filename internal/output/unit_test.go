package output

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"": FormatTable, "table": FormatTable, "JSON": FormatJSON, "yaml": FormatYAML,
		"csv": FormatCSV, " jsonl ": FormatJSONL,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseFormat("xml")
	if err == nil || !strings.Contains(err.Error(), "table, json, yaml, csv, jsonl") {
		t.Fatalf("ParseFormat(xml) error = %v; want one listing the formats", err)
	}
}

func TestRelative(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{-30 * time.Second, "in less than a minute"},
		{time.Minute, "1 minute ago"},
		{3*time.Minute + 59*time.Second, "3 minutes ago"},
		{-2 * time.Hour, "in 2 hours"},
		{23 * time.Hour, "23 hours ago"},
		{49 * time.Hour, "2 days ago"},
		{-48 * time.Hour, "in 2 days"},
		{45 * 24 * time.Hour, "1 month ago"},
		{800 * 24 * time.Hour, "2 years ago"},
	}
	for _, tt := range tests {
		if got := relative(now, now.Add(-tt.d)); got != tt.want {
			t.Errorf("relative(%v ago) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestTimeFormatter(t *testing.T) {
	ts := time.Date(2025, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	human := timeFormatter{human: true, now: func() time.Time { return now.Add(time.Hour) }}
	plain := timeFormatter{now: func() time.Time { return now }}
	if got := plain.Time(ts); got != "2025-06-01T12:00:00Z" {
		t.Errorf("piped Time = %q, want UTC RFC 3339", got)
	}
	if got := human.Time(ts); got != "1 hour ago" {
		t.Errorf("TTY Time = %q", got)
	}
	if human.TimePtr(nil) != "-" || human.Time(time.Time{}) != "-" {
		t.Error(`TTY nil/zero time must be "-"`)
	}
	if plain.TimePtr(nil) != "" || plain.Time(time.Time{}) != "" {
		t.Error(`piped nil/zero time must be ""`)
	}
	if got := plain.TimePtr(&ts); got != "2025-06-01T12:00:00Z" {
		t.Errorf("TimePtr = %q", got)
	}
}

func TestDrawTableFitsWidth(t *testing.T) {
	tbl := Table{
		Headers: []string{"id", "title", "status"},
		Rows: [][]string{
			{"task_01", strings.Repeat("long title ", 20), "ok"},
			{"task_02", "日本語のタイトルはとても長いですね、本当に長い", "ok"},
		},
	}
	b, err := drawTable(tbl, 50, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if w := twwidth.Width(l); w > 50 {
			t.Errorf("line %q is %d wide, want <= 50", l, w)
		}
		if !strings.Contains(l, "task_0") && !strings.HasPrefix(l, "ID") {
			t.Errorf("narrow column was truncated: %q", l)
		}
	}
	if !strings.Contains(string(b), "…") {
		t.Errorf("no ellipsis in\n%s", b)
	}
}

// TestIDsAreNeverCut: at 80 columns a table of long ids and names cuts the
// names, never an id nor a header, and stays one line per row.
func TestIDsAreNeverCut(t *testing.T) {
	ids := []string{"task_01m8w1tnc5y3r0e4a6b8d0f2h4", "key_01m8w1tnc5y3r0e4a6b8d0f2h5"}
	tbl := Table{
		Headers: []string{"id", "workspace_id", "name", "status"},
		Rows: [][]string{
			{ids[0], "ws_01m8w1tnc5y3r0e4a6b8d0f2h6", strings.Repeat("a long name ", 8), "running"},
			{ids[1], "ws_01m8w1tnc5y3r0e4a6b8d0f2h6", "short", "queued"},
		},
	}
	for _, width := range []int{80, 120} {
		b, err := drawTable(tbl, width, false)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("width %d: %d lines, want 3:\n%s", width, len(lines), b)
		}
		if !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "WORKSPACE ID") || !strings.Contains(lines[0], "STATUS") {
			t.Errorf("width %d: header cut: %q", width, lines[0])
		}
		for i, id := range ids {
			if !strings.HasPrefix(lines[i+1], id+" ") || !strings.Contains(lines[i+1], "ws_01m8w1tnc5y3r0e4a6b8d0f2h6") {
				t.Errorf("width %d: id cut in %q", width, lines[i+1])
			}
			if w := twwidth.Width(lines[i+1]); w > width {
				t.Errorf("width %d: line is %d wide: %q", width, w, lines[i+1])
			}
		}
		if width == 80 && !strings.Contains(lines[1], "…") {
			t.Errorf("name not cut with … at 80: %q", lines[1])
		}
	}
}

func TestFit(t *testing.T) {
	h := []string{"A", "B", "C"}
	free := []bool{false, false, false}
	rows := [][]string{{strings.Repeat("a", 30), strings.Repeat("b", 20), "c"}}
	if got := fit(h, rows, free, 100); got[0] != 30 || got[1] != 20 || got[2] != 1 {
		t.Errorf("fit with room = %v, want natural widths", got)
	}
	got := fit(h, rows, free, 40) // 30+20+1 + 4 gap = 55: 15 over
	if total := got[0] + got[1] + got[2] + 4; total != 40 {
		t.Errorf("fit(40) = %v (total %d)", got, total)
	}
	if got[2] != 1 {
		t.Errorf("narrow column changed: %v", got)
	}
	got = fit(h, rows, free, 5) // cannot fit: nothing below the floor
	if got[0] != minColumn || got[1] != minColumn || got[2] != 1 {
		t.Errorf("fit(5) = %v", got)
	}
	got = fit(h, rows, []bool{true, false, false}, 40) // A is an id: B gives way alone
	if got[0] != 30 || got[1] != minColumn {
		t.Errorf("fit with a fixed column = %v", got)
	}
}

func TestSingleColumnTable(t *testing.T) {
	b, err := drawTable(Table{Headers: []string{"name"}, Rows: [][]string{{"free"}, {"pro"}}}, 80, false)
	if err != nil || string(b) != "NAME\nfree\npro\n" {
		t.Fatalf("got %q, %v", b, err)
	}
}

func TestShortRowsArePadded(t *testing.T) {
	tbl := Table{Headers: []string{"a", "b"}, Rows: [][]string{{"1"}}}
	if got := string(tsvTable(tbl)); got != "a\tb\n1\t\n" {
		t.Errorf("tsv = %q", got)
	}
	if b, _ := csvTable(tbl); string(b) != "a,b\n1,\n" {
		t.Errorf("csv = %q", b)
	}
}

func TestPrintErrors(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p := New(ios, FormatTable)
	long := func(TimeFormatter) Table { return Table{Headers: []string{"a"}, Rows: [][]string{{"1", "2"}}} }
	if err := p.Print(nil, long); err == nil {
		t.Error("row longer than headers: no error")
	}
	if err := p.Print(nil, nil); err == nil {
		t.Error("nil table func: no error")
	}
	if err := p.PrintObject(nil, nil); err == nil {
		t.Error("nil fields func: no error")
	}
	if err := New(ios, FormatJSON).Print(func() {}, nil); err == nil {
		t.Error("unencodable data: no error")
	}
	if err := New(ios, Format("xml")).Print(1, nil); err == nil {
		t.Error("unknown format: no error")
	}
	if out.Len() != 0 {
		t.Errorf("failed prints wrote %q", out.String())
	}
	if New(ios, "").Format() != FormatTable {
		t.Error(`New(ios, "") is not the table format`)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed pipe") }

func TestWriteError(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	ios.Out = failWriter{}
	err := New(ios, FormatJSON).Print([]int{1}, nil)
	if err == nil || !strings.Contains(err.Error(), "closed pipe") {
		t.Fatalf("err = %v", err)
	}
}

// TestObjectWraps: an object view on a terminal wraps a long value to the
// terminal's width at spaces, its lines under the first value;
// ids stay whole; 0 (no width known) leaves values on one line.
func TestObjectWraps(t *testing.T) {
	id := "task_01m8w1tnc5y3r0e4a6b8d0f2h4"
	kv := [][2]string{{"id", id}, {"parent", id}, {"message", strings.Repeat("a few words, ", 12) + id}}
	for _, width := range []int{40, 80, 120} {
		b := string(drawObject(kv, false, width))
		lines := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
		if !strings.HasPrefix(lines[0], "ID       "+id) || !strings.HasPrefix(lines[1], "PARENT   "+id) {
			t.Errorf("width %d: id cut:\n%s", width, b)
		}
		if !strings.Contains(b, id+"\n") || strings.Count(b, id) != 3 {
			t.Errorf("width %d: the id at the end of the message is split:\n%s", width, b)
		}
		for _, l := range lines {
			if w := twwidth.Width(l); w > width {
				t.Errorf("width %d: line is %d wide: %q", width, w, l)
			}
		}
		for _, l := range lines[3:] {
			if !strings.HasPrefix(l, "         ") {
				t.Errorf("width %d: continuation not under the value: %q", width, l)
			}
		}
		if width < 120 && len(lines) < 4 {
			t.Errorf("width %d: no wrapping:\n%s", width, b)
		}
	}
	if b := drawObject(kv, false, 0); strings.Count(string(b), "\n") != 3 {
		t.Errorf("no width: wrapped:\n%s", b)
	}
}
