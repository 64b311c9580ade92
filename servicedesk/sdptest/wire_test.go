package sdptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// failure reads the first message of a failure answer.
func failure(t *testing.T, a answer) (code int, field, msg string) {
	t.Helper()
	var out struct {
		ResponseStatus struct {
			StatusCode int    `json:"status_code"`
			Status     string `json:"status"`
			Messages   []struct {
				StatusCode int    `json:"status_code"`
				Field      string `json:"field"`
				Message    string `json:"message"`
				Type       string `json:"type"`
			} `json:"messages"`
		} `json:"response_status"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.ResponseStatus.Status != "failed" || out.ResponseStatus.StatusCode != 4000 ||
		len(out.ResponseStatus.Messages) == 0 || out.ResponseStatus.Messages[0].Type != "failed" {
		t.Fatalf("not an SDP failure (HTTP %d): %s", a.status, a.body)
	}
	m := out.ResponseStatus.Messages[0]
	return m.StatusCode, m.Field, m.Message
}

// TestMalformedInput checks SDP's answers to bad input_data, field by
// field.
func TestMalformedInput(t *testing.T) {
	s := newServer(t)
	hc := &http.Client{Transport: transport(t)}
	id := rawCall(t, s, hc, "POST", "/requests", `{"request":{"subject":"x","template":{"name":"`+sdptest.VulnTemplate+`"},"category":{"name":"Security"},"udf_fields":{"`+sdptest.VulnUDF+`":"CVE-1"}}}`).json(t)["request"].(map[string]any)["id"].(string)
	cases := []struct {
		method, path, input string
		status, code        int
		field               string
	}{
		{"POST", "/requests", "", 400, 4012, "input_data"},
		{"POST", "/requests", `{"request":`, 400, 4001, "input_data"},
		{"POST", "/requests", `{'request': {'subject': 'x'}}`, 400, 4001, "input_data"},
		{"POST", "/requests", `[1]`, 400, 4001, "input_data"},
		{"POST", "/requests", `{"req":{"subject":"x"}}`, 400, 4000, "req"},
		{"POST", "/requests", `{"request":{}}`, 400, 4012, "subject"},
		{"POST", "/requests", `{"request":"x"}`, 400, 4021, "request"},
		{"POST", "/requests", `{"request":{"subject":7}}`, 400, 4021, "subject"},
		{"POST", "/requests", `{"request":{"subject":"  "}}`, 400, 4012, "subject"},
		{"POST", "/requests", `{"request":{"subject":"` + strings.Repeat("s", 251) + `"}}`, 400, 4001, "subject"},
		{"POST", "/requests", `{"request":{"subject":"x","colour":"red"}}`, 400, 4000, "colour"},
		{"POST", "/requests", `{"request":{"subject":"x","priority":"High"}}`, 400, 4021, "priority"},
		{"POST", "/requests", `{"request":{"subject":"x","priority":{"label":"High"}}}`, 400, 4000, "priority.label"},
		{"POST", "/requests", `{"request":{"subject":"x","priority":{"id":"999999"}}}`, 400, 4001, "priority"},
		{"POST", "/requests", `{"request":{"subject":"x","technician":{"email_id":"priya.shah@example.com"}}}`, 400, 4001, "technician"},
		{"POST", "/requests", `{"request":{"subject":"x","due_by_time":{"value":"soon"}}}`, 400, 4021, "due_by_time"},
		{"POST", "/requests", `{"request":{"subject":"x","udf_fields":{"udf_nope":"1"}}}`, 400, 4001, "udf_fields.udf_nope"},
		{"POST", "/requests", `{"request":{"subject":"x","udf_fields":{"` + sdptest.VulnUDF + `":[1]}}}`, 400, 4021, "udf_fields." + sdptest.VulnUDF},
		{"POST", "/requests", `{"request":{"subject":"x","item":{"name":"Outlook"}}}`, 400, 4001, "item"},
		{"POST", "/requests", `{"request":{"subject":"x","id":"5"}}`, 400, 4014, "id"},
		{"PUT", "/requests/" + id, `{"request":{"template":{"name":"` + sdptest.DefaultTemplate + `"}}}`, 400, 4009, "template"},
		{"PUT", "/requests/" + id, `{"request":{"category":null}}`, 400, 4012, "category"},
		{"PUT", "/requests/" + id, `{"request":{"status":null}}`, 400, 4012, "status"},
		{"PUT", "/requests/" + id + "/close", `{"request":{"closure_info":{"closure_code":"x"}}}`, 400, 4021, "closure_info.closure_code"},
		{"PUT", "/requests/" + id + "/close", `{"request":{"subject":"x"}}`, 400, 4000, "subject"},
		{"POST", "/requests/" + id + "/notes", `{"request_note":{"description":"x"}}`, 400, 4000, "request_note"},
		{"POST", "/requests/" + id + "/notes", `{"note":{"description":""}}`, 400, 4012, "description"},
		{"GET", "/requests", `{"list_info":{"row_count":"ten"}}`, 400, 4021, "list_info.row_count"},
		{"GET", "/requests", `{"list_info":{"sort_order":"sideways","sort_field":"subject"}}`, 400, 4001, "sort_order"},
		{"GET", "/requests", `{"list_info":{"filter_by":{"name":"Open_System"}}}`, 400, 4001, "filter_by"},
		{"GET", "/requests", `{"list_info":{"colour":1}}`, 400, 4000, "list_info.colour"},
		{"GET", "/requests", `{"list_info":{"search_criteria":{"field":"colour","condition":"is","value":"x"}}}`, 400, 4001, "search_criteria"},
		{"GET", "/requests", `{"list_info":{"search_criteria":{"field":"subject","condition":"resembles","value":"x"}}}`, 400, 4001, "search_criteria"},
		{"GET", "/requests", `{"list_info":{"search_criteria":{"field":"subject","condition":"between","values":["a"]}}}`, 400, 4001, "search_criteria"},
		{"GET", "/requests", `{"list_info":{"search_criteria":{"field":"subject","condition":"is","value":{"a":1}}}}`, 400, 4021, "search_criteria.value"},
		{"GET", "/requests", `{"list_info":{"search_criteria":[{"field":"subject","condition":"is","value":"x","logical_operator":"xor"}]}}`, 400, 4001, "search_criteria"},
		{"DELETE", "/requests/" + id, "", 404, 4007, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" "+tc.input, func(t *testing.T) {
			a := rawCall(t, s, hc, tc.method, tc.path, tc.input)
			code, field, _ := failure(t, a)
			if a.status != tc.status || code != tc.code || field != tc.field {
				t.Errorf("HTTP %d %d field %q; want HTTP %d %d field %q (%s)", a.status, code, field, tc.status, tc.code, tc.field, a.body)
			}
		})
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests stored, want 1", n)
	}
	calls := s.Calls()
	last := calls[len(calls)-2]
	if last.Input == nil || last.Code != 4001 || last.Status != 400 || !strings.Contains(last.InputData, "xor") {
		t.Errorf("recorded call = %+v", last)
	}
	// When both are given, the id wins (a numeric id is accepted too).
	high, _ := s.ID("priority", "High")
	a := rawCall(t, s, hc, "POST", "/requests", `{"request":{"subject":"x","priority":{"id":`+high+`,"name":"Nope"}}}`)
	if a.status != 201 || a.json(t)["request"].(map[string]any)["priority"].(map[string]any)["name"] != "High" {
		t.Errorf("id and name: HTTP %d %.200s", a.status, a.body)
	}
	got, _ := s.Request(id)
	if got.Category == nil || got.Status.Name != "Open" {
		t.Errorf("a failed update changed the request: %+v", got)
	}
}

func TestAuthAndFlavours(t *testing.T) {
	hc := &http.Client{Transport: transport(t)}
	s := newServer(t, sdptest.WithAuthTokens("k1", "k2"))
	for _, hdr := range [][]string{{"authtoken", "k2"}, {"TECHNICIAN_KEY", "k1"}} {
		req, _ := http.NewRequest("GET", s.APIURL()+"/statuses", nil)
		req.Header.Set(hdr[0], hdr[1])
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: HTTP %d", hdr[0], resp.StatusCode)
		}
	}
	a := rawCall(t, s, hc, "GET", "/statuses", "", "authtoken", "k3")
	if code, _, _ := failure(t, a); a.status != 401 || code != 4022 {
		t.Errorf("wrong key: HTTP %d %d", a.status, code)
	}
	// On-premises there is no accounts endpoint.
	resp0, err := hc.PostForm(s.URL()+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp0.Body.Close()
	if resp0.StatusCode != 404 {
		t.Errorf("on-prem token endpoint: HTTP %d", resp0.StatusCode)
	}
	// On-premises, an old Accept header still works.
	if a := rawCall(t, s, hc, "GET", "/statuses", "", "authtoken", "k1", "Accept", "application/json"); a.status != 200 {
		t.Errorf("on-prem plain Accept: HTTP %d", a.status)
	}

	c := cloudServer(t)
	a = rawCall(t, c, hc, "GET", "/requests", "", "Accept", "application/json")
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.Contains(string(a.body), "<html") {
		t.Errorf("cloud plain Accept: HTTP %d %s %.80s", a.status, a.header.Get("Content-Type"), a.body)
	}
	a = rawCall(t, c, hc, "GET", "/requests", "", "Authorization", "Zoho-oauthtoken wrong")
	if code, _, _ := failure(t, a); a.status != 401 || code != 4022 {
		t.Errorf("cloud wrong token: HTTP %d %d", a.status, code)
	}
	a = rawCall(t, c, hc, "GET", "/requests", "", "Authorization", "Bearer "+cloudToken)
	if a.status != 401 {
		t.Errorf("cloud Bearer: HTTP %d", a.status)
	}
	// The API lives under the portal only.
	req, _ := http.NewRequest("GET", c.URL()+"/app/other/api/v3/requests", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+cloudToken)
	req.Header.Set("Accept", servicedesk.MediaType)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("other portal: HTTP %d", resp.StatusCode)
	}
	me := rawCall(t, c, hc, "GET", "/users/me", "").json(t)
	if u := me["user"].(map[string]any); u["login_name"] != "administrator" || len(u["id"].(string)) != 18 {
		t.Errorf("users/me = %v", u)
	}
	n := rawCall(t, c, hc, "POST", "/requests", `{"request":{"subject":"n"}}`).json(t)["request"].(map[string]any)
	note := rawCall(t, c, hc, "POST", "/requests/"+n["id"].(string)+"/notes", `{"request_note":{"description":"<p>x</p>"}}`)
	if note.status != 201 || note.json(t)["request_note"] == nil {
		t.Errorf("cloud note: HTTP %d %s", note.status, note.body)
	}
	if l := rawCall(t, c, hc, "GET", "/requests/"+n["id"].(string)+"/notes", "").json(t); len(l["request_notes"].([]any)) != 1 {
		t.Errorf("cloud notes list = %v", l)
	}
}

// TestTokenEndpoint checks the fake Zoho accounts endpoint: errors with
// status 200, Zoho's 10-per-10-minutes limit, expiry on the server clock.
func TestTokenEndpoint(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	s := cloudServer(t, sdptest.WithClock(clock.Now), sdptest.WithOAuthClient("cid", "csecret", "r1", "r2"), sdptest.WithAccessTokenTTL(time.Hour))
	hc := &http.Client{Transport: transport(t)}
	grant := func(form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := hc.PostForm(s.AccountsURL()+"/oauth/v2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("token answer is not JSON: %s", b)
		}
		return resp.StatusCode, m
	}
	form := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"csecret"}, "refresh_token": {rt}}
	}
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{form("nope"), "invalid_code"},
		{url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {"bad"}, "refresh_token": {"r1"}}, "invalid_client"},
		{url.Values{"grant_type": {"authorization_code"}}, "unsupported_grant_type"},
	} {
		if st, m := grant(tc.form); st != 200 || m["error"] != tc.want || m["access_token"] != nil {
			t.Errorf("HTTP %d %v, want 200 with error %s", st, m, tc.want)
		}
	}
	st, m := grant(form("r1"))
	tok, _ := m["access_token"].(string)
	if st != 200 || tok == "" || m["expires_in"] != float64(3600) || m["token_type"] != "Bearer" || m["api_domain"] != s.URL() {
		t.Fatalf("grant = HTTP %d %v", st, m)
	}
	call := func() int {
		return rawCall(t, s, hc, "GET", "/statuses", "", "Authorization", "Zoho-oauthtoken "+tok).status
	}
	if st := call(); st != 200 {
		t.Errorf("fresh token: HTTP %d", st)
	}
	for range 9 {
		if st, _ := grant(form("r1")); st != 200 {
			t.Fatalf("grant within the limit: HTTP %d", st)
		}
	}
	if st, m := grant(form("r1")); st != 400 || m["error"] != "Access Denied" {
		t.Errorf("11th grant in 10 minutes: HTTP %d %v", st, m)
	}
	if st, m := grant(form("r2")); st != 200 || m["access_token"] == nil {
		t.Errorf("another refresh token is not limited: HTTP %d %v", st, m)
	}
	clock.Advance(61 * time.Minute)
	if st := call(); st != 401 {
		t.Errorf("expired token: HTTP %d", st)
	}
	if st, _ := grant(form("r1")); st != 200 {
		t.Errorf("grant after the window: HTTP %d", st)
	}
	if n := s.TokenGrants(); n != 12 {
		t.Errorf("grants = %d, want 12", n)
	}
}

// TestConcurrentUse drives the server from many goroutines at once under
// the race detector: creates, reads, lists, API and UI edits, faults and
// triggers.
func TestConcurrentUse(t *testing.T) {
	s := newServer(t)
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "all", URL: rs.URL, Payload: `{"s":"${{request.status}}"}`, Modified: []string{"status.name"}}))
	must(t, s.AddFault(sdptest.Fault{Kind: sdptest.TooManyRequests, Method: "GET", Path: "/requests", Times: 5, RetryAfter: "0"}))
	c := newClient(t, s)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					errs <- err
					return
				}
				if _, err := c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "In Progress"}}); err != nil {
					errs <- err
					return
				}
				if err := s.SetStatus(string(r.ID), "On Hold"); err != nil {
					errs <- err
					return
				}
				if _, err := c.Requests.List(ctx, &servicedesk.ListOptions{RowCount: 5}); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 { // these copy the whole store: not every round
					_ = s.Calls()
					_ = s.Requests()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 80 {
		t.Errorf("requests = %d, want 80", n)
	}
	ds := waitN(t, s, 160)
	if len(ds) != 160 || s.FaultCount(sdptest.TooManyRequests) != 5 {
		t.Errorf("deliveries %d (want 160), 429s %d (want 5)", len(ds), s.FaultCount(sdptest.TooManyRequests))
	}
}

// TestAssignResolveTrash: assign, pickup and resolutions are edits (they
// fire triggers); a trashed request leaves lists and cannot be trashed
// twice.
func TestAssignResolveTrash(t *testing.T) {
	s := newServer(t)
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "tech", URL: rs.URL, Modified: []string{"technician.name"}, Payload: `${{request.technician}}`}))
	hc := &http.Client{Transport: transport(t)}
	id := rawCall(t, s, hc, "POST", "/requests", `{"request":{"subject":"a"}}`).json(t)["request"].(map[string]any)["id"].(string)
	other := rawCall(t, s, hc, "POST", "/requests", `{"request":{"subject":"b"}}`).json(t)["request"].(map[string]any)["id"].(string)

	if a := rawCall(t, s, hc, "PUT", "/requests/"+id+"/assign", `{"request":{"technician":{"name":"Sam Okafor"},"group":{"name":"Network"}}}`); a.status != 200 {
		t.Fatalf("assign: %d %s", a.status, a.body)
	}
	if a := rawCall(t, s, hc, "PUT", "/requests/"+id+"/assign", `{"request":{"subject":"no"}}`); a.status != 400 {
		t.Errorf("assign with a subject: HTTP %d", a.status)
	}
	if a := rawCall(t, s, hc, "PUT", "/requests/"+id+"/pickup", ""); a.status != 200 {
		t.Fatalf("pickup: %d %s", a.status, a.body)
	}
	ds := waitN(t, s, 2)
	if string(ds[0].Body) != "Sam Okafor" || string(ds[1].Body) != "administrator" {
		t.Errorf("deliveries: %q, %q", ds[0].Body, ds[1].Body)
	}
	got, _ := s.Request(id)
	if got.Group.Name != "Network" || got.Technician.Name != "administrator" {
		t.Errorf("after assign and pickup: group %+v technician %+v", got.Group, got.Technician)
	}
	if a := rawCall(t, s, hc, "POST", "/requests/"+id+"/resolutions", `{"resolution":{"content":""}}`); a.status != 400 {
		t.Errorf("empty resolution: HTTP %d", a.status)
	}
	rawCall(t, s, hc, "POST", "/requests/"+id+"/resolutions", `{"resolution":{"content":"<p>fixed</p>"}}`)
	res := rawCall(t, s, hc, "GET", "/requests/"+id+"/resolutions", "").json(t)["resolution"].(map[string]any)
	if res["content"] != "<p>fixed</p>" || res["submitted_on"] == nil {
		t.Errorf("resolution = %v", res)
	}

	a := rawCall(t, s, hc, "DELETE", "/requests/"+id+"/move_to_trash", "")
	if a.status != 200 || a.json(t)["request"].(map[string]any)["is_trashed"] != true {
		t.Fatalf("trash: %d %s", a.status, a.body)
	}
	l := rawCall(t, s, hc, "GET", "/requests", `{"list_info":{"get_total_count":true}}`).json(t)
	rows := l["requests"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["id"] != other || l["list_info"].(map[string]any)["total_count"] != float64(1) {
		t.Errorf("list after trash = %v", l)
	}
	if a := rawCall(t, s, hc, "GET", "/requests/"+id, ""); a.status != 200 {
		t.Errorf("a trashed request is not readable: HTTP %d", a.status)
	}
	if a := rawCall(t, s, hc, "DELETE", "/requests/"+id, ""); a.status != 404 {
		t.Errorf("on-prem DELETE /requests/{id}: HTTP %d, want 404 (the on-prem path is move_to_trash)", a.status)
	}
	c := cloudServer(t)
	cid := rawCall(t, c, hc, "POST", "/requests", `{"request":{"subject":"c"}}`).json(t)["request"].(map[string]any)["id"].(string)
	if a := rawCall(t, c, hc, "DELETE", "/requests/"+cid, ""); a.status != 200 {
		t.Errorf("cloud delete: HTTP %d", a.status)
	}
	a = rawCall(t, c, hc, "DELETE", "/requests/"+cid, "")
	if code, _, msg := failure(t, a); code != 4016 || msg != "Already in trash" {
		t.Errorf("second cloud delete: %d %q", code, msg)
	}
}

// TestHandlerMounted serves the fake from a listener of the test's own and
// edits through EditInput, with placeholders in headers.
func TestHandlerMounted(t *testing.T) {
	s := newServer(t)
	own := httptest.NewServer(s.Handler())
	defer own.Close()
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "prio", URL: rs.URL, Modified: []string{"priority.name"},
		Headers: map[string]string{"X-Request": "${{request.id}}/${{request.priority.name}}"}, Payload: "{}"}))
	tr := transport(t)
	c, err := servicedesk.NewClient(own.URL, servicedesk.WithAuthToken(sdptest.DefaultAuthToken), servicedesk.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "mounted"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.EditInput(string(r.ID), &servicedesk.RequestInput{Priority: &servicedesk.Ref{Name: "Urgent"}}))
	if err := s.EditInput(string(r.ID), &servicedesk.RequestInput{Priority: &servicedesk.Ref{Name: "Critical"}}); err == nil || !strings.Contains(err.Error(), "field priority") {
		t.Errorf("EditInput with an unknown priority = %v", err)
	}
	ds := waitN(t, s, 1)
	if got := ds[0].Header.Get("X-Request"); got != string(r.ID)+"/Urgent" {
		t.Errorf("X-Request = %q", got)
	}
	if got, _ := s.Request(string(r.ID)); got.Priority.Name != "Urgent" {
		t.Errorf("priority = %+v", got.Priority)
	}
}
