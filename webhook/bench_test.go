package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"golang.org/x/time/rate"
)

// benchDesc is a typical exported description: a few HTML sections and the
// footer reference (small under MESD_BENCH_SMALL=1).
func benchDesc(f *fixture) string {
	n := 12
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		n = 1
	}
	var b strings.Builder
	for range n {
		b.WriteString(`<div><b>Description</b><br>The login form builds an SQL query from the "user" parameter; `)
		b.WriteString(`an attacker can read the users table. <a href="https://faraday.test/ws/acme/vulns/1">details</a></div>`)
	}
	b.WriteString(f.footer(vulnA))
	return b.String()
}

// benchWriter is a ResponseWriter that keeps nothing, so both benchmarks
// measure their handler only.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// runBench sends bodies in turn to h, reusing one request and writer.
func runBench(b *testing.B, h http.Handler, bodies [][]byte, wantCode int) {
	b.Helper()
	rd := bytes.NewReader(nil)
	rc := io.NopCloser(rd)
	req, err := http.NewRequest(http.MethodPost, Path, rc)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderToken, "1")
	w := &benchWriter{h: http.Header{}}
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		body := bodies[i%len(bodies)]
		i++
		rd.Reset(body)
		req.Body = rc
		req.ContentLength = int64(len(body))
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != wantCode {
			b.Fatalf("answer %d", w.code)
		}
	}
}

// BenchmarkHandler is the whole handler: body read, positional scan,
// SHA-256 token lookup, footer reference, link lookup, status map, echo
// check, claim and commit on the in-memory link store, in-memory apply.
// Deliveries alternate between Closed and Open so each one changes the
// vuln. The logger is disabled, as it would be below Info.
func BenchmarkHandler(b *testing.B) {
	f := newFixture(b, func(c *Config) {
		c.Logger = slog.New(slog.DiscardHandler)
		c.OnOutcome, c.DeadLetter = nil, nil
		c.Limits.Deliveries = rate.Inf
	})
	desc := benchDesc(f)
	bodies := [][]byte{
		[]byte(idBody("Closed", desc, ticketA, f.valid)),
		[]byte(idBody("Open", desc, ticketA, f.valid)),
	}
	runBench(b, f.h, bodies, http.StatusOK)
	if f.vulns.Sets() < b.N {
		b.Fatalf("%d sets for %d deliveries", f.vulns.Sets(), b.N)
	}
}

// BenchmarkBaseline decodes the same (valid JSON) bodies with
// encoding/json and answers 200 with a small JSON body: the least any
// handler of this webhook does.
func BenchmarkBaseline(b *testing.B) {
	f := newFixture(b, nil)
	desc := strings.ReplaceAll(benchDesc(f), `"`, `\"`) // valid JSON for the decoder
	bodies := [][]byte{
		[]byte(idBody("Closed", desc, ticketA, f.valid)),
		[]byte(idBody("Open", desc, ticketA, f.valid)),
	}
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Status        string `json:"status"`
			Desc          string `json:"desc"`
			ID            string `json:"id"`
			Authorization string `json:"Authorization"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, DefaultMaxBodyBytes)).Decode(&p); err != nil || p.Status == "" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"result":"updated"}`))
	})
	runBench(b, baseline, bodies, http.StatusOK)
}

// BenchmarkHandlerEscapedBody is BenchmarkHandler on the baseline's exact
// bodies (valid JSON with escaped quotes).
func BenchmarkHandlerEscapedBody(b *testing.B) {
	f := newFixture(b, func(c *Config) {
		c.Logger = slog.New(slog.DiscardHandler)
		c.OnOutcome, c.DeadLetter = nil, nil
		c.Limits.Deliveries = rate.Inf
	})
	desc := strings.ReplaceAll(benchDesc(f), `"`, `\"`)
	bodies := [][]byte{
		[]byte(idBody("Closed", desc, ticketA, f.valid)),
		[]byte(idBody("Open", desc, ticketA, f.valid)),
	}
	runBench(b, f.h, bodies, http.StatusOK)
}
