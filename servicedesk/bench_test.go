package servicedesk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/servicedesk"
)

// benchRows is the page size of the list benchmark: a full SDP page, or a
// few rows under MESD_BENCH_SMALL=1.
func benchRows() int {
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		return 5
	}
	return servicedesk.MaxRowCount
}

// benchBody generates a list answer of n cloud-shaped requests.
func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"start_index":1,"row_count":`)
	fmt.Fprintf(&b, "%d", n)
	b.WriteString(`},"requests":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"1236400000002%05d","display_id":"%d","subject":"[FRD acme/%d] Finding %d","short_description":"Found by Faraday","status":{"id":"123640000000006657","name":"Open","in_progress":true,"internal_name":"Open"},"priority":{"id":"123640000000006805","name":"High","color":"#ff0000"},"requester":{"id":"123640000000193011","name":"Security","email_id":"sec@example.com","is_vip_user":false},"technician":{"id":"123640000000142582","name":"First Last"},"template":{"id":"123640000000006655","name":"Default Request"},"group":{"id":"123640000000006681","name":"Network","site":null,"deleted":false},"created_time":{"display_value":"Jun 23, 2020 04:18 PM","value":"%d"},"due_by_time":null,"has_notes":false,"is_service_request":false,"udf_fields":{"udf_sline_301":"CVE-2024-%04d"}}`,
			i, 100+i, i, i, 1592918317168+int64(i), i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkListRequests compares Requests.List through the whole client
// (retry layer, limiter, auth, envelope check, decoding) with a plain
// net/http + encoding/json call of the same URL on the same server,
// decoding the same body into the same types. The ratio of the two ns/op
// is the client's overhead.
func BenchmarkListRequests(b *testing.B) {
	n := benchRows()
	body := benchBody(n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("authtoken") != "bench-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	opts := &servicedesk.ListOptions{RowCount: n}

	b.Run("client", func(b *testing.B) {
		c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("bench-token"), servicedesk.WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			l, err := c.Requests.List(ctx, opts)
			if err != nil || len(l.Requests) != n {
				b.Fatalf("List: %d requests, %v", len(l.Requests), err)
			}
		}
	})

	b.Run("stdlib", func(b *testing.B) {
		hc := srv.Client()
		li, _ := json.Marshal(map[string]any{"list_info": map[string]any{"row_count": n}})
		u := srv.URL + "/api/v3/requests?" + url.Values{"input_data": {string(li)}}.Encode()
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", servicedesk.MediaType)
			req.Header.Set("authtoken", "bench-token")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			var out struct {
				Requests []*servicedesk.Request `json:"requests"`
				ListInfo servicedesk.ListInfo   `json:"list_info"`
			}
			if err := json.Unmarshal(raw, &out); err != nil || len(out.Requests) != n {
				b.Fatalf("decode: %d requests, %v", len(out.Requests), err)
			}
		}
	})
}

// BenchmarkGetRequest is the same comparison for a single small answer,
// where the fixed cost of the client's layers weighs most.
func BenchmarkGetRequest(b *testing.B) {
	body := []byte(okRequest71)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()

	b.Run("client", func(b *testing.B) {
		c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("bench-token"), servicedesk.WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Requests.Get(ctx, "71"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v3/requests/71", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", servicedesk.MediaType)
			req.Header.Set("authtoken", "bench-token")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Request *servicedesk.Request `json:"request"`
			}
			if err := json.Unmarshal(raw, &out); err != nil || out.Request == nil {
				b.Fatal(err)
			}
		}
	})
}
