package servicedesk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vulndesk/mesd/servicedesk"
)

// createdBody is the answer of every create in the benchmarks: a request
// as SDP Cloud returns it after a create.
var createdBody = []byte(`{"request":{"id":"123640000000240013","display_id":"102","subject":"[FRD acme/12] SQL injection","description":"<p>found</p>",` +
	`"status":{"id":"123640000000006657","name":"Open","in_progress":true,"internal_name":"Open","stop_timer":false,"color":"#0066ff"},` +
	`"priority":{"id":"123640000000006805","name":"High","color":"#ff0000"},"requester":{"id":"123640000000193011","name":"Security","email_id":"sec@example.com","is_vip_user":false},` +
	`"template":{"id":"123640000000006655","name":"Default Request","is_service_template":false},"created_time":{"display_value":"Jun 23, 2020 04:18 PM","value":"1592918317168"},` +
	`"has_notes":false,"udf_fields":{"udf_sline_301":"CVE-2024-0001"}},"response_status":{"status_code":2000,"status":"success"}}`)

var emptyList = []byte(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"start_index":1,"row_count":0},"requests":[]}`)

func benchInput(i int) *servicedesk.RequestInput {
	tag := "[FRD acme/" + strconv.Itoa(i) + "]"
	return &servicedesk.RequestInput{
		Subject:     tag + " SQL injection in login",
		Description: "<p>SQL injection in <b>login</b></p>",
		Requester:   &servicedesk.UserRef{EmailID: "sec@example.com"},
		Priority:    &servicedesk.Ref{Name: "High"},
		Template:    &servicedesk.TemplateRef{ID: "123640000000006655"},
	}
}

// createServer answers POST /api/v3/requests with createdBody (201) and
// GET /api/v3/requests with an empty list.
func createServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("authtoken") != "bench-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		if r.Method == http.MethodPost {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(createdBody)
			return
		}
		_, _ = w.Write(emptyList)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// stdlibCreate is the baseline of a create: the same form body built with
// encoding/json and net/url, sent with net/http, the answer decoded into
// the same type.
func stdlibCreate(ctx context.Context, hc *http.Client, base string, in *servicedesk.RequestInput) (*servicedesk.Request, error) {
	js, err := json.Marshal(map[string]any{"request": in})
	if err != nil {
		return nil, err
	}
	body := url.Values{"input_data": {string(js)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v3/requests", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", servicedesk.MediaType)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("authtoken", "bench-token")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("status %d, %w", resp.StatusCode, err)
	}
	var out struct {
		Request *servicedesk.Request `json:"request"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Request == nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return out.Request, nil
}

// BenchmarkCreateRequest compares a plain Requests.Create through the
// whole client with the same create made with net/http and encoding/json,
// against the same server and the same answer.
func BenchmarkCreateRequest(b *testing.B) {
	srv := createServer(b)
	ctx := context.Background()
	in := benchInput(12)
	b.Run("client", func(b *testing.B) {
		c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("bench-token"), servicedesk.WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Requests.Create(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdlibCreate(ctx, hc, srv.URL, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCreateOnce measures the idempotent create: one search (which
// finds nothing) and one create. The baseline makes the same two calls
// with net/http and encoding/json.
func BenchmarkCreateOnce(b *testing.B) {
	srv := createServer(b)
	ctx := context.Background()
	in := benchInput(12)
	const tag = "[FRD acme/12]"
	b.Run("client", func(b *testing.B) {
		c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("bench-token"), servicedesk.WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, created, err := c.Requests.CreateOnce(ctx, tag, in); err != nil || !created {
				b.Fatal(created, err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			li, _ := json.Marshal(map[string]any{"list_info": map[string]any{"row_count": 100, "start_index": 1,
				"search_criteria": map[string]any{"field": "subject", "condition": "contains", "value": tag}}})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v3/requests?"+url.Values{"input_data": {string(li)}}.Encode(), nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", servicedesk.MediaType)
			req.Header.Set("authtoken", "bench-token")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var found struct {
				Requests []*servicedesk.Request `json:"requests"`
			}
			if err := json.Unmarshal(raw, &found); err != nil || len(found.Requests) != 0 {
				b.Fatal(err)
			}
			if _, err := stdlibCreate(ctx, hc, srv.URL, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// walkServer serves total requests in pages, generating each page's rows
// from list_info when asked; nothing is kept between pages.
func walkServer(b *testing.B, total int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			ListInfo struct {
				RowCount   int `json:"row_count"`
				StartIndex int `json:"start_index"`
			} `json:"list_info"`
		}
		if err := json.Unmarshal([]byte(r.URL.Query().Get("input_data")), &q); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		start, n := q.ListInfo.StartIndex, q.ListInfo.RowCount
		if start+n-1 > total {
			n = max(total-start+1, 0)
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		bw := bufio.NewWriter(w)
		_, _ = fmt.Fprintf(bw, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":%t,"start_index":%d,"row_count":%d},"requests":[`,
			start+n <= total, start, n)
		for i := start; i < start+n; i++ {
			if i > start {
				_ = bw.WriteByte(',')
			}
			_, _ = fmt.Fprintf(bw, `{"id":"1236400000%08d","display_id":"%d","subject":"[FRD acme/%d] Finding %d","short_description":"Found by Faraday","status":{"id":"123640000000006657","name":"Open","in_progress":true,"internal_name":"Open"},"priority":{"id":"123640000000006805","name":"High","color":"#ff0000"},"requester":{"id":"123640000000193011","name":"Security","email_id":"sec@example.com","is_vip_user":false},"template":{"id":"123640000000006655","name":"Default Request"},"created_time":{"display_value":"Jun 23, 2020 04:18 PM","value":"%d"},"has_notes":false,"udf_fields":{"udf_sline_301":"CVE-2024-%04d"}}`,
				i, i, i, i, 1592918317168+int64(i), i%10000)
		}
		_, _ = bw.WriteString(`]}`)
		_ = bw.Flush()
	}))
	b.Cleanup(srv.Close)
	return srv
}

// liveHeap returns the live heap after a full GC, from runtime/metrics.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkWalkRequests walks every request with Requests.All in pages of
// 100 and reports the peak live heap seen during the walk (sampled after
// a GC once per page) as peak-live-B, and its growth over the heap before
// the walk as walk-live-B. The heap must not grow with the number of
// rows: compare rows=10000 with rows=1000 (under MESD_BENCH_SMALL=1: 500
// and 50).
func BenchmarkWalkRequests(b *testing.B) {
	sizes := []int{1000, 10000}
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		sizes = []int{50, 500}
	}
	for _, total := range sizes {
		b.Run(fmt.Sprintf("rows=%d", total), func(b *testing.B) {
			srv := walkServer(b, total)
			c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("bench-token"), servicedesk.WithHTTPClient(srv.Client()))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var peak, growth atomic.Uint64
			b.ReportAllocs()
			for b.Loop() {
				base := liveHeap()
				top := base
				n := 0
				for r, err := range c.Requests.All(ctx, nil) {
					if err != nil {
						b.Fatal(err)
					}
					if r.ID == "" {
						b.Fatal("empty id")
					}
					n++
					if n%servicedesk.MaxRowCount == 0 || n == total {
						top = max(top, liveHeap())
					}
				}
				if n != total {
					b.Fatalf("walked %d requests, want %d", n, total)
				}
				peak.Store(max(peak.Load(), top))
				growth.Store(max(growth.Load(), top-base))
			}
			b.ReportMetric(float64(peak.Load()), "peak-live-B")
			b.ReportMetric(float64(growth.Load()), "walk-live-B")
		})
	}
}
