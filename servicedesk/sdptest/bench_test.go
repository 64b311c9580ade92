package sdptest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// benchCreates is how many creates one benchmark iteration makes: 10,000,
// or 200 under MESD_BENCH_SMALL=1.
func benchCreates() int {
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		return 200
	}
	return 10000
}

const benchWorkers = 4

// postCreates sends n creates to url from benchWorkers goroutines over
// keep-alive connections and fails on any answer but 201.
func postCreates(b *testing.B, hc *http.Client, target, authtoken string, n int) {
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	per := n / benchWorkers
	for w := range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				js := fmt.Sprintf(`{"request":{"subject":"[FRD acme/%d-%d] Finding","description":"<p>details</p>","priority":{"name":"High"},"requester":{"email_id":"priya.shah@example.com"}}}`, w, i)
				req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"input_data": {js}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", "application/vnd.manageengine.sdp.v3+json")
				req.Header.Set("authtoken", authtoken)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("HTTP %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: benchWorkers}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// BenchmarkCreate makes 10,000 creates per iteration against a fresh
// sdptest server; compare its req/s with BenchmarkCreateBaseline.
func BenchmarkCreate(b *testing.B) {
	n := benchCreates()
	hc := benchClient(b)
	for b.Loop() {
		b.StopTimer()
		s := sdptest.NewServer()
		b.StartTimer()
		postCreates(b, hc, s.APIURL()+"/requests", sdptest.DefaultAuthToken, n)
		b.StopTimer()
		if got := len(s.Requests()); got != n/benchWorkers*benchWorkers {
			b.Fatalf("stored %d requests, want %d", got, n)
		}
		s.Close()
		hc.CloseIdleConnections()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkCreateBaseline makes the same POSTs to a trivial httptest
// handler that parses the same form and JSON and answers a small JSON
// object: the cost of HTTP itself.
func BenchmarkCreateBaseline(b *testing.B) {
	n := benchCreates()
	hc := benchClient(b)
	var mu sync.Mutex
	stored := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in map[string]any
		if err := json.Unmarshal([]byte(r.Form.Get("input_data")), &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		stored++
		id := stored
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"request":{"id":"%d"},"response_status":{"status_code":2000,"status":"success"}}`, id)
	})
	for b.Loop() {
		b.StopTimer()
		ts := httptest.NewServer(h)
		b.StartTimer()
		postCreates(b, hc, ts.URL+"/api/v3/requests", "x", n)
		b.StopTimer()
		ts.Close()
		hc.CloseIdleConnections()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "req/s")
}
