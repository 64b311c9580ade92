package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// benchSizes are the export sizes: 100, 1,000 and 10,000 vulns, or 10 and
// 100 under MESD_BENCH_SMALL=1.
func benchSizes() []int {
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		return []int{10, 100}
	}
	return []int{100, 1000, 10000}
}

const benchConcurrency = 8

// heapPeak samples the live heap every millisecond from start to stop and
// returns the highest value above the heap after a GC at the start.
type heapPeak struct {
	base, peak uint64
	stop       chan struct{}
	done       sync.WaitGroup
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{base: readHeap(), stop: make(chan struct{})}
	h.peak = h.base
	h.done.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := readHeap(); v > h.peak {
				h.peak = v
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	})
	return h
}

// end stops the sampler and returns the peak growth in bytes.
func (h *heapPeak) end() uint64 {
	close(h.stop)
	h.done.Wait()
	if v := readHeap(); v > h.peak {
		h.peak = v
	}
	return h.peak - h.base
}

// benchServer starts a fake SDP and a client of it with a pooled
// transport sized for the benchmark's concurrency.
func benchServer(b *testing.B) (*sdptest.Server, *servicedesk.Client, *http.Client) {
	srv := sdptest.NewServer()
	tr := &http.Transport{MaxIdleConnsPerHost: benchConcurrency * 2}
	hc := &http.Client{Transport: tr}
	b.Cleanup(func() { tr.CloseIdleConnections(); srv.Close() })
	c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithHTTPClient(hc),
		servicedesk.WithAuthToken(sdptest.DefaultAuthToken), servicedesk.WithRetry(0, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	return srv, c, hc
}

// BenchmarkExport exports n generated vulns to a fresh sdptest with the
// engine (memory link store, 8 workers), beside a baseline of 8 goroutines
// POSTing the same request bodies, built beforehand, to a fresh sdptest
// with net/http alone. The engine's figure includes mapping each vuln and
// its two link writes; both include sdptest's own work and memory, which
// dominate. Metrics: ns/vuln, peak live heap growth per vuln, SDP calls
// per vuln.
func BenchmarkExport(b *testing.B) {
	for _, n := range benchSizes() {
		vs := vulns(n)
		b.Run(fmt.Sprintf("engine/n=%d", n), func(b *testing.B) {
			var peak uint64
			calls := 0
			for b.Loop() {
				b.StopTimer()
				srv, c, _ := benchServer(b)
				cfg := loadConfig(b)
				eng, err := engine.New(engine.Config{SDP: c, Mapping: cfg, Links: faraday.NewMemoryLinkStore(), Concurrency: benchConcurrency})
				if err != nil {
					b.Fatal(err)
				}
				if err := eng.Prepare(context.Background()); err != nil {
					b.Fatal(err)
				}
				srv.ResetCalls()
				h := startHeapPeak()
				b.StartTimer()
				rep, err := eng.Export(context.Background(), seq(vs), nil)
				b.StopTimer()
				peak = max(peak, h.end())
				if err != nil || rep.Created != n {
					b.Fatalf("export: %v, created %d of %d", err, rep.Created, n)
				}
				calls = len(srv.Calls())
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vuln")
			b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/vuln")
			b.ReportMetric(float64(calls)/float64(n), "sdp-calls/vuln")
		})
		b.Run(fmt.Sprintf("baseline-post/n=%d", n), func(b *testing.B) {
			bodies := baselineBodies(b, vs)
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				srv, _, hc := benchServer(b)
				h := startHeapPeak()
				b.StartTimer()
				postAll(b, hc, srv.APIURL()+"/requests", bodies)
				b.StopTimer()
				peak = max(peak, h.end())
				if got := len(srv.Requests()); got != n {
					b.Fatalf("%d requests stored, want %d", got, n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vuln")
			b.ReportMetric(float64(peak)/float64(n), "peak-heap-B/vuln")
			b.ReportMetric(1, "sdp-calls/vuln")
		})
	}
}

// baselineBodies builds the form bodies the engine sends for vs, with the
// mapper and requester id a prepared engine has.
func baselineBodies(b *testing.B, vs []*faraday.Vuln) []string {
	_, c, _ := benchServer(b)
	eng, err := engine.New(engine.Config{SDP: c, Mapping: loadConfig(b), Links: faraday.NewMemoryLinkStore()})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.Prepare(context.Background()); err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, len(vs))
	for i, v := range vs {
		in, err := eng.Mapper().Request(v, eng.RequesterID())
		if err != nil {
			b.Fatal(err)
		}
		js, err := json.Marshal(map[string]any{"request": in})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = url.Values{"input_data": {string(js)}}.Encode()
	}
	return bodies
}

// postAll POSTs the bodies with benchConcurrency goroutines.
func postAll(b *testing.B, hc *http.Client, target string, bodies []string) {
	next := make(chan string)
	var wg sync.WaitGroup
	var failed sync.Once
	for range benchConcurrency {
		wg.Go(func() {
			for body := range next {
				req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
				if err != nil {
					failed.Do(func() { b.Error(err) })
					continue
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", servicedesk.MediaType)
				req.Header.Set("authtoken", sdptest.DefaultAuthToken)
				resp, err := hc.Do(req)
				if err != nil {
					failed.Do(func() { b.Error(err) })
					continue
				}
				var out struct {
					Request struct {
						ID string `json:"id"`
					} `json:"request"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated || out.Request.ID == "" {
					failed.Do(func() { b.Errorf("POST answered %d: %v", resp.StatusCode, err) })
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
