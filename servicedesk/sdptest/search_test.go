package sdptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// model is what the test itself knows of a generated request.
type model struct {
	id       string
	subject  string
	priority string // "" for none
	status   string
	created  int64
	cve      string // "" for none
}

var words = []string{"Alpha", "bravo", "CHARLIE", "delta", "Echo", "foxtrot"}

// seedRequests creates n requests with generated fields through the
// server's handler and returns the model of each. Creation times are one
// minute apart (the server's clock steps).
func seedRequests(t *testing.T, s *sdptest.Server, n int) []model {
	t.Helper()
	rnd := rand.New(rand.NewPCG(7, 11))
	priorities := []string{"", "Low", "Medium", "High", "Urgent"}
	statuses := []string{"Open", "In Progress", "On Hold", "Resolved"}
	out := make([]model, 0, n)
	h := s.Handler()
	for i := range n {
		m := model{
			subject:  fmt.Sprintf("Vuln %04d %s %s", i, words[rnd.IntN(len(words))], words[rnd.IntN(len(words))]),
			priority: priorities[rnd.IntN(len(priorities))],
			status:   statuses[rnd.IntN(len(statuses))],
		}
		req := map[string]any{"subject": m.subject, "status": map[string]string{"name": m.status}}
		if m.priority != "" {
			req["priority"] = map[string]string{"name": m.priority}
		}
		if rnd.IntN(3) > 0 {
			m.cve = fmt.Sprintf("CVE-2024-%04d", rnd.IntN(50))
			req["udf_fields"] = map[string]string{sdptest.VulnUDF: m.cve}
		}
		js, _ := json.Marshal(map[string]any{"request": req})
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, s.APIURL()+"/requests", strings.NewReader(url.Values{"input_data": {string(js)}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("authtoken", sdptest.DefaultAuthToken)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			t.Fatalf("create %d: HTTP %d %s", i, w.Code, w.Body)
		}
		var ans struct {
			Request servicedesk.Request `json:"request"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
			t.Fatal(err)
		}
		m.id, m.created = string(ans.Request.ID), ans.Request.CreatedTime.Millis
		out = append(out, m)
	}
	return out
}

// TestSearch1000 creates 1,000 requests, then checks that each supported
// search condition returns exactly the subset the test computes, and that
// paging walks all of them once.
func TestSearch1000(t *testing.T) {
	clock := &stepClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Minute}
	s := newServer(t, sdptest.WithClock(clock.Now))
	ms := seedRequests(t, s, 1000)
	c := newClient(t, s)
	ctx := context.Background()

	t1, t2 := ms[200].created, ms[299].created
	has := func(sub, part string) bool { return strings.Contains(strings.ToLower(sub), strings.ToLower(part)) }
	type crit = servicedesk.Criterion
	cases := []struct {
		name   string
		opts   servicedesk.ListOptions
		expect func(m model) bool
	}{
		{"is", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "priority.name", Condition: servicedesk.Is, Value: "high"}}},
			func(m model) bool { return m.priority == "High" }},
		{"is not", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "priority.name", Condition: servicedesk.IsNot, Value: "High"}}},
			func(m model) bool { return m.priority != "High" }},
		{"in (is with values)", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "status.name", Condition: servicedesk.Is, Values: []string{"Open", "On Hold"}}}},
			func(m model) bool { return m.status == "Open" || m.status == "On Hold" }},
		{"contains", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "subject", Condition: servicedesk.Contains, Value: "charlie"}}},
			func(m model) bool { return has(m.subject, "charlie") }},
		{"not contains", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "subject", Condition: servicedesk.NotContains, Value: "ECHO"}}},
			func(m model) bool { return !has(m.subject, "echo") }},
		{"starts with", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "subject", Condition: servicedesk.StartsWith, Value: "vuln 01"}}},
			func(m model) bool { return strings.HasPrefix(m.subject, "Vuln 01") }},
		{"ends with", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "subject", Condition: servicedesk.EndsWith, Value: "delta"}}},
			func(m model) bool { return strings.HasSuffix(strings.ToLower(m.subject), "delta") }},
		{"between on created_time", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "created_time", Condition: servicedesk.Between, Values: []string{strconv.FormatInt(t1, 10), strconv.FormatInt(t2, 10)}}}},
			func(m model) bool { return m.created >= t1 && m.created <= t2 }},
		{"not between", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "created_time.value", Condition: servicedesk.NotBetween, Values: []string{strconv.FormatInt(t1, 10), strconv.FormatInt(t2, 10)}}}},
			func(m model) bool { return m.created < t1 || m.created > t2 }},
		{"greater than", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "created_time", Condition: servicedesk.GreaterThan, Value: strconv.FormatInt(t2, 10)}}},
			func(m model) bool { return m.created > t2 }},
		{"lesser or equal", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "created_time", Condition: "lte", Value: strconv.FormatInt(t1, 10)}}},
			func(m model) bool { return m.created <= t1 }},
		{"udf is", servicedesk.ListOptions{SearchCriteria: []crit{{Field: "udf_fields." + sdptest.VulnUDF, Condition: servicedesk.Is, Value: "CVE-2024-0007"}}},
			func(m model) bool { return m.cve == "CVE-2024-0007" }},
		{"and", servicedesk.ListOptions{SearchCriteria: []crit{
			{Field: "priority.name", Condition: servicedesk.Is, Value: "Low"},
			{Field: "status.name", Condition: servicedesk.Is, Value: "Resolved", LogicalOperator: servicedesk.And}}},
			func(m model) bool { return m.priority == "Low" && m.status == "Resolved" }},
		{"or", servicedesk.ListOptions{SearchCriteria: []crit{
			{Field: "priority.name", Condition: servicedesk.Is, Value: "Urgent"},
			{Field: "subject", Condition: servicedesk.Contains, Value: "foxtrot", LogicalOperator: servicedesk.Or}}},
			func(m model) bool { return m.priority == "Urgent" || has(m.subject, "foxtrot") }},
		{"children", servicedesk.ListOptions{SearchCriteria: []crit{
			{Field: "status.name", Condition: servicedesk.Is, Value: "Open", Children: []crit{
				{Field: "status.name", Condition: servicedesk.Is, Value: "On Hold", LogicalOperator: servicedesk.Or}}},
			{Field: "subject", Condition: servicedesk.Contains, Value: "alpha", LogicalOperator: servicedesk.And, Children: []crit{
				{Field: "priority.name", Condition: servicedesk.IsNot, Value: "Low", LogicalOperator: servicedesk.And}}}}},
			func(m model) bool {
				return (m.status == "Open" || m.status == "On Hold") && (has(m.subject, "alpha") && m.priority != "Low")
			}},
		{"search_fields", servicedesk.ListOptions{SearchFields: map[string]string{"priority.name": "Medium", "status.name": "In Progress"}},
			func(m model) bool { return m.priority == "Medium" && m.status == "In Progress" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, m := range ms {
				if tc.expect(m) {
					want = append(want, m.id)
				}
			}
			if len(want) == 0 || len(want) == len(ms) {
				t.Fatalf("the generated data make this case trivial (%d of %d match)", len(want), len(ms))
			}
			opts := tc.opts
			opts.GetTotalCount = true
			first, err := c.Requests.List(ctx, &opts)
			if err != nil {
				t.Fatal(err)
			}
			if first.ListInfo.TotalCount != len(want) {
				t.Errorf("total_count = %d, want %d", first.ListInfo.TotalCount, len(want))
			}
			var got []string
			for r, err := range c.Requests.All(ctx, &tc.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(r.ID))
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d ids, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
		})
	}

	t.Run("paging walks all once", func(t *testing.T) {
		for _, rows := range []int{100, 37} {
			seen := map[string]int{}
			var order []string
			for r, err := range c.Requests.All(ctx, &servicedesk.ListOptions{RowCount: rows}) {
				if err != nil {
					t.Fatal(err)
				}
				seen[string(r.ID)]++
				order = append(order, string(r.ID))
			}
			if len(order) != len(ms) || len(seen) != len(ms) {
				t.Fatalf("row_count %d: walked %d rows, %d distinct; want %d", rows, len(order), len(seen), len(ms))
			}
			for i, m := range ms {
				if order[i] != m.id {
					t.Fatalf("row_count %d: row %d is %s, want %s", rows, i, order[i], m.id)
				}
			}
		}
	})
	t.Run("row_count above 100 is clamped", func(t *testing.T) {
		a := rawCall(t, s, &http.Client{Transport: transport(t)}, http.MethodGet, "/requests",
			`{"list_info":{"row_count":500,"start_index":951,"get_total_count":true,"sort_field":"created_time","sort_order":"desc"}}`)
		var out struct {
			ListInfo servicedesk.ListInfo `json:"list_info"`
			Requests []servicedesk.Request
		}
		if err := json.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		li := out.ListInfo
		if li.RowCount != 50 || li.StartIndex != 951 || li.HasMoreRows || li.TotalCount != 1000 || len(out.Requests) != 50 {
			t.Errorf("list_info = %+v, rows %d", li, len(out.Requests))
		}
		if out.Requests[0].ID != servicedesk.ID(ms[49].id) {
			t.Errorf("descending row 951 = %s, want %s", out.Requests[0].ID, ms[49].id)
		}
		a = rawCall(t, s, &http.Client{Transport: transport(t)}, http.MethodGet, "/requests", `{"list_info":{"row_count":500}}`)
		if err := json.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		if out.ListInfo.RowCount != 100 || !out.ListInfo.HasMoreRows || len(out.Requests) != 100 {
			t.Errorf("list_info = %+v", out.ListInfo)
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
