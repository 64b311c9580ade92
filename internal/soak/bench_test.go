package soak

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// benchSmall reports MESD_BENCH_SMALL=1 (CI runs every benchmark once,
// small).
func benchSmall() bool { return os.Getenv("MESD_BENCH_SMALL") == "1" }

// postBodies POSTs bodies to target from workers goroutines.
func postBodies(b *testing.B, hc *http.Client, target string, header http.Header, bodies []string, workers int) {
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for body := range next {
				req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
				if err != nil {
					b.Error(err)
					continue
				}
				req.Header = header.Clone()
				res, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode >= 300 {
					b.Errorf("%s: %d", target, res.StatusCode)
				}
			}
		})
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
}

// BenchmarkExportConcurrency exports n vulns (1,000; 100 under
// MESD_BENCH_SMALL=1) to a fresh sdptest with 1, 4 and 16 engine workers,
// beside a baseline of as many goroutines POSTing the same request bodies
// with net/http alone: how the export's cost per vuln moves with
// concurrency on this machine. Metric: ns/vuln.
func BenchmarkExportConcurrency(b *testing.B) {
	n := 1000
	if benchSmall() {
		n = 100
	}
	vs := soakVulns(n)
	cfg := loadEngineConfig(b)
	newServer := func(b *testing.B, workers int) (*sdptest.Server, *servicedesk.Client, *http.Client) {
		srv := sdptest.NewServer()
		tr := &http.Transport{MaxIdleConnsPerHost: 2 * workers}
		hc := &http.Client{Transport: tr}
		b.Cleanup(func() { tr.CloseIdleConnections(); srv.Close() })
		c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithHTTPClient(hc), servicedesk.WithAuthToken(sdptest.DefaultAuthToken), servicedesk.WithRetry(0, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		return srv, c, hc
	}
	prepared := func(b *testing.B, c *servicedesk.Client, workers int) *engine.Engine {
		eng, err := engine.New(engine.Config{SDP: c, Mapping: cfg, Links: faraday.NewMemoryLinkStore(), Concurrency: workers})
		if err != nil {
			b.Fatal(err)
		}
		if err := eng.Prepare(context.Background()); err != nil {
			b.Fatal(err)
		}
		return eng
	}
	// The bodies the engine sends, built once.
	_, c0, _ := newServer(b, 1)
	eng0 := prepared(b, c0, 1)
	bodies := make([]string, n)
	for i, v := range vs {
		in, err := eng0.Mapper().Request(v, eng0.RequesterID())
		if err != nil {
			b.Fatal(err)
		}
		js, err := json.Marshal(map[string]any{"request": in})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = url.Values{"input_data": {string(js)}}.Encode()
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {servicedesk.MediaType}, "Authtoken": {sdptest.DefaultAuthToken}}
	for _, workers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("engine/workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				_, c, _ := newServer(b, workers)
				eng := prepared(b, c, workers)
				b.StartTimer()
				rep, err := eng.Export(context.Background(), seqOf(vs), nil)
				if err != nil || rep.Created != n {
					b.Fatalf("export: %v, created %d of %d", err, rep.Created, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vuln")
		})
		b.Run(fmt.Sprintf("baseline-post/workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				srv, _, hc := newServer(b, workers)
				b.StartTimer()
				postBodies(b, hc, srv.APIURL()+"/requests", header, bodies, workers)
				b.StopTimer()
				if got := len(srv.Requests()); got != n {
					b.Fatalf("%d requests stored, want %d", got, n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vuln")
		})
	}
}

// BenchmarkWebhookConcurrency sends d good deliveries (2,000; 200 under
// MESD_BENCH_SMALL=1), each a change to its own vuln, over a loopback
// listener from 1, 8 and 50 senders to the handler (memory stores), beside
// a baseline standard-library handler doing the least the same job needs:
// encoding/json decoding of the same (valid JSON) bodies, a SHA-256 token
// check against a map, a status set in a map under a mutex, a JSON answer.
// Metric: ns/delivery (wall time over deliveries).
func BenchmarkWebhookConcurrency(b *testing.B) {
	d := 2000
	if benchSmall() {
		d = 200
	}
	ctx := context.Background()
	m := loadMapper(b)
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, d)
	for i := range bodies {
		// Valid JSON (no raw quote or line break in the description) so
		// that the baseline can decode it.
		bodies[i] = `{"status": "Resolved", "desc": "<div>Fixed in build ` + itoa(int64(i)) + `</div><p>` + m.Reference(workspace, int64(i+1)).String() + `</p>", "id": "` + ticketOf(i) + `", "Authorization": "` + token + `"}`
	}
	header := http.Header{"Content-Type": {"application/json"}, webhook.HeaderToken: {"1"}}
	for _, senders := range []int{1, 8, 50} {
		b.Run(fmt.Sprintf("handler/senders=%d", senders), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				links := faraday.NewMemoryLinkStore()
				vulns := webhook.NewMemoryVulnStore()
				for i := range d {
					key := faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}
					if _, err := links.CompareAndSet(ctx, faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketOf(i)}}, 0); err != nil {
						b.Fatal(err)
					}
					vulns.Put(key, faraday.StatusOpen)
				}
				h, err := webhook.NewHandler(webhook.Config{Tokens: tokens, Links: links, Statuses: m, Vulns: vulns,
					IDPolicy: webhook.IDRequired, Logger: slog.New(slog.DiscardHandler),
					Limits: webhook.Limits{Deliveries: rate.Limit(1e9), DeliveryBurst: d}})
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(h)
				tr := &http.Transport{MaxIdleConnsPerHost: senders}
				b.StartTimer()
				postBodies(b, &http.Client{Transport: tr}, srv.URL+webhook.Path, header, bodies, senders)
				b.StopTimer()
				tr.CloseIdleConnections()
				srv.Close()
				if vulns.Sets() != d {
					b.Fatalf("%d changes applied, want %d", vulns.Sets(), d)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d), "ns/delivery")
		})
		b.Run(fmt.Sprintf("baseline/senders=%d", senders), func(b *testing.B) {
			want := sha256.Sum256([]byte(token))
			for b.Loop() {
				b.StopTimer()
				var mu sync.Mutex
				statuses := make(map[string]string, d)
				for i := range d {
					statuses[ticketOf(i)] = "open"
				}
				base := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var p struct{ Status, Desc, ID, Authorization string }
					if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p); err != nil {
						http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
						return
					}
					got := sha256.Sum256([]byte(p.Authorization))
					if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
						http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
						return
					}
					mu.Lock()
					statuses[p.ID] = "closed"
					mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(map[string]string{"result": "updated", "status": "closed"})
				})
				srv := httptest.NewServer(base)
				tr := &http.Transport{MaxIdleConnsPerHost: senders}
				b.StartTimer()
				postBodies(b, &http.Client{Transport: tr}, srv.URL+webhook.Path, header, bodies, senders)
				b.StopTimer()
				tr.CloseIdleConnections()
				srv.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d), "ns/delivery")
		})
	}
}
