package servicedesk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeSDP is a small stateful SDP for the tests of this package: it keeps
// the requests it creates, lists them in pages honouring start_index and
// row_count, and applies search_criteria "contains" on the subject the
// loose way SDP does (without case). It can drop the connection after
// committing a create, so that the answer is lost.
type fakeSDP struct {
	t *testing.T

	mu        sync.Mutex
	reqs      []fakeRequest
	nextID    int
	now       int64 // created_time of the next request, in ms
	dropNext  bool  // commit the next create, then drop the connection
	posts     int
	searches  int
	lastQuery string
}

type fakeRequest struct {
	ID      string
	Subject string
	Created int64
}

func newFakeSDP(t *testing.T) (*fakeSDP, *httptest.Server) {
	f := &fakeSDP{t: t, nextID: 100, now: 1_700_000_000_000}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSDP) add(subject string, created int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := strconv.Itoa(f.nextID)
	f.reqs = append(f.reqs, fakeRequest{ID: id, Subject: subject, Created: created})
	return id
}

// withTag counts the stored requests whose subject holds tag exactly.
func (f *fakeSDP) withTag(tag string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if strings.Contains(r.Subject, tag) {
			n++
		}
	}
	return n
}

func (f *fakeSDP) rowJSON(r fakeRequest) string {
	b, _ := json.Marshal(map[string]any{
		"id": r.ID, "subject": r.Subject,
		"created_time": map[string]string{"value": strconv.FormatInt(r.Created, 10), "display_value": "whenever"},
		"status":       map[string]any{"id": "2", "name": "Open"},
	})
	return string(b)
}

func (f *fakeSDP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("authtoken") != testToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(failed(4022, "Invalid API key")))
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v3/requests":
		f.create(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v3/requests":
		f.list(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(failed(4007, "Invalid URL")))
	}
}

func (f *fakeSDP) create(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, failed(4000, "bad form"), http.StatusBadRequest)
		return
	}
	var in struct {
		Request struct {
			Subject string `json:"subject"`
		} `json:"request"`
	}
	if err := json.Unmarshal([]byte(r.PostForm.Get("input_data")), &in); err != nil || in.Request.Subject == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(failed(4012, "subject")))
		return
	}
	f.mu.Lock()
	f.posts++
	f.nextID++
	f.now += 1000
	req := fakeRequest{ID: strconv.Itoa(f.nextID), Subject: in.Request.Subject, Created: f.now}
	f.reqs = append(f.reqs, req)
	drop := f.dropNext
	f.dropNext = false
	body := `{"request":` + f.rowJSON(req) + `,"response_status":{"status_code":2000,"status":"success"}}`
	f.mu.Unlock()
	if drop {
		// Committed; now lose the answer.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
		return
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(body))
}

type fakeCriterion struct {
	Field     string `json:"field"`
	Condition string `json:"condition"`
	Value     any    `json:"value"`
}

func (f *fakeSDP) list(w http.ResponseWriter, r *http.Request) {
	var q struct {
		ListInfo struct {
			RowCount       int             `json:"row_count"`
			StartIndex     int             `json:"start_index"`
			SearchCriteria json.RawMessage `json:"search_criteria"`
		} `json:"list_info"`
	}
	if s := r.URL.Query().Get("input_data"); s != "" {
		if err := json.Unmarshal([]byte(s), &q); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(failed(4000, "input_data")))
			return
		}
	}
	li := q.ListInfo
	if li.RowCount == 0 {
		li.RowCount = 10
	}
	if li.StartIndex == 0 {
		li.StartIndex = 1
	}
	var crit []fakeCriterion
	if raw := strings.TrimSpace(string(li.SearchCriteria)); raw != "" {
		if strings.HasPrefix(raw, "[") {
			_ = json.Unmarshal(li.SearchCriteria, &crit)
		} else {
			var c fakeCriterion
			_ = json.Unmarshal(li.SearchCriteria, &c)
			crit = []fakeCriterion{c}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(crit) > 0 {
		f.searches++
	}
	var match []fakeRequest
	for _, req := range f.reqs {
		ok := true
		for _, c := range crit {
			v, _ := c.Value.(string)
			f.lastQuery = v
			if c.Field != "subject" || c.Condition != "contains" {
				f.t.Errorf("fake SDP: unsupported criterion %+v", c)
				ok = false
				continue
			}
			ok = ok && strings.Contains(strings.ToLower(req.Subject), strings.ToLower(v))
		}
		if ok {
			match = append(match, req)
		}
	}
	var rows []string
	for i := li.StartIndex; i < li.StartIndex+li.RowCount && i <= len(match); i++ {
		rows = append(rows, f.rowJSON(match[i-1]))
	}
	more := li.StartIndex+li.RowCount <= len(match)
	_, _ = fmt.Fprintf(w, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":%t,"start_index":%d,"row_count":%d},"requests":[%s]}`,
		more, li.StartIndex, len(rows), strings.Join(rows, ","))
}

// counts returns the creates and searches served so far and the last
// searched value.
func (f *fakeSDP) counts() (posts, searches int, lastQuery string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts, f.searches, f.lastQuery
}
