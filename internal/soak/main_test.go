package soak

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/mapping"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// soakSize is small unless MESD_SOAK=full asks for the quoted size.
func soakSize(small, full int) int {
	if os.Getenv("MESD_SOAK") == "full" {
		return full
	}
	return small
}

func loadMapper(tb testing.TB) *mapping.Mapper {
	tb.Helper()
	data, err := os.ReadFile("testdata/mapping.json")
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := mapping.New(cfg, mapping.WithReferenceKey(testReferenceKey))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// testReferenceKey signs the footer references of the soak tests; the
// webhook-server processes get it through MESD_REFERENCE_KEY.
var testReferenceKey = []byte("mesd-soak-test-reference-key-32b")

// percentile returns the q-quantile (0 < q ≤ 1) of ds by the nearest-rank
// method; ds is sorted in place.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// secretWatch is a slog.Handler that renders every record (message,
// attributes and groups, as a text handler writes them) and remembers the
// lines that contain one of the watched secrets. Tests hand it to the code
// under test and call check at the end.
type secretWatch struct {
	shared *watchState
	inner  slog.Handler
	buf    *bytes.Buffer
}

type watchState struct {
	mu      sync.Mutex
	secrets []string
	lines   int
	leaks   []string
}

func newSecretWatch() *secretWatch {
	buf := &bytes.Buffer{}
	return &secretWatch{
		shared: &watchState{},
		buf:    buf,
		inner:  slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	}
}

// watch adds secrets to look for (empty strings are ignored).
func (w *secretWatch) watch(secrets ...string) {
	w.shared.mu.Lock()
	defer w.shared.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			w.shared.secrets = append(w.shared.secrets, s)
		}
	}
}

func (w *secretWatch) Enabled(context.Context, slog.Level) bool { return true }

func (w *secretWatch) Handle(ctx context.Context, r slog.Record) error {
	w.shared.mu.Lock()
	defer w.shared.mu.Unlock()
	w.buf.Reset()
	if err := w.inner.Handle(ctx, r); err != nil {
		return err
	}
	line := w.buf.String()
	w.shared.lines++
	for _, s := range w.shared.secrets {
		if strings.Contains(line, s) {
			w.shared.leaks = append(w.shared.leaks, fmt.Sprintf("log line holds %s: %s", redact(s), redactAll(line, w.shared.secrets)))
		}
	}
	return nil
}

func (w *secretWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &secretWatch{shared: w.shared, inner: w.inner.WithAttrs(as), buf: w.buf}
}

func (w *secretWatch) WithGroup(name string) slog.Handler {
	return &secretWatch{shared: w.shared, inner: w.inner.WithGroup(name), buf: w.buf}
}

// text checks a string that is not a log line (an error's text, an answer
// body) for the watched secrets.
func (w *secretWatch) text(where, s string) {
	w.shared.mu.Lock()
	defer w.shared.mu.Unlock()
	for _, sec := range w.shared.secrets {
		if strings.Contains(s, sec) {
			w.shared.leaks = append(w.shared.leaks, fmt.Sprintf("%s holds %s: %s", where, redact(sec), redactAll(s, w.shared.secrets)))
		}
	}
}

// check fails tb for every leak seen, and returns how many log lines were
// inspected.
func (w *secretWatch) check(tb testing.TB) int {
	tb.Helper()
	w.shared.mu.Lock()
	defer w.shared.mu.Unlock()
	for _, l := range w.shared.leaks {
		tb.Error(l)
	}
	return w.shared.lines
}

// redact shows which secret leaked without printing it.
func redact(s string) string {
	if len(s) <= 4 {
		return fmt.Sprintf("a %d-byte secret", len(s))
	}
	return fmt.Sprintf("the secret %q…", s[:4])
}

func redactAll(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "<SECRET>")
	}
	return s
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
