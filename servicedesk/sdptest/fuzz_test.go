package sdptest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzInputData sends arbitrary input_data to every write and list
// endpoint. SDP answers malformed JSON, wrong types and unknown fields
// with a 4xx JSON failure: never a panic, never a 500, never a body that
// is not an SDP answer.
func FuzzInputData(f *testing.F) {
	seeds := []string{
		`{"request":{"subject":"x"}}`,
		`{"request":{"subject":"x","priority":{"name":"High"},"udf_fields":{"udf_sline_301":"CVE"}}}`,
		`{"request":{"subject":1}}`,
		`{"request":{"subject":"x","colour":"red"}}`,
		`{"request":{"subject":"x","status":{"id":{"a":1}}}}`,
		`{"request":{"subject":"x","due_by_time":{"value":"abc"}}}`,
		`{"request":{"subject":"x","category":{"name":"Security"},"subcategory":{"name":"VPN"}}}`,
		`{"request":null}`, `[]`, `null`, `"x"`, `{"request":{"subject":"x"}} trailing`, `{'request': {'subject': 'x'}}`,
		`{"list_info":{"row_count":"5","search_criteria":[{"field":"subject","condition":"contains","value":"x"},{"field":"status.name","condition":"is","values":["Open"],"logical_operator":"or","children":[{"field":"id","condition":"between","values":["1","9"]}]}]}}`,
		`{"list_info":{"row_count":-1,"start_index":1e9,"sort_field":"subject","sort_order":"sideways"}}`,
		`{"list_info":{"search_criteria":{"field":"subject","condition":"between","values":["a"]}}}`,
		`{"list_info":{"search_fields":{"subject":["x"]}}}`,
		`{"note":{"description":"<p>n</p>","show_to_requester":"yes"}}`,
		`{"request":{"closure_info":{"closure_code":{"name":"Done"},"requester_ack_resolution":"true"}}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	srv := newServer(WithAccessTokens("tok"))
	defer srv.hooks.close()
	create := httptest.NewRecorder()
	srv.Handler().ServeHTTP(create, formRequest(http.MethodPost, "/api/v3/requests", `{"request":{"subject":"seeded"}}`))
	if create.Code != http.StatusCreated {
		f.Fatalf("seed create: %d %s", create.Code, create.Body)
	}
	targets := []struct{ method, path string }{
		{http.MethodPost, "/api/v3/requests"}, {http.MethodPut, "/api/v3/requests/1"}, {http.MethodGet, "/api/v3/requests"},
		{http.MethodPut, "/api/v3/requests/1/close"}, {http.MethodPost, "/api/v3/requests/1/notes"},
		{http.MethodGet, "/api/v3/requests/1/notes"}, {http.MethodGet, "/api/v3/users"}, {http.MethodGet, "/api/v3/statuses"},
	}
	f.Fuzz(func(t *testing.T, which uint8, input string) {
		tg := targets[int(which)%len(targets)]
		var r *http.Request
		if tg.method == http.MethodGet {
			r = httptest.NewRequest(tg.method, tg.path+"?"+url.Values{"input_data": {input}}.Encode(), nil)
			r.Header.Set("authtoken", DefaultAuthToken)
		} else {
			r = formRequest(tg.method, tg.path, input)
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: HTTP %d %s", tg.method, tg.path, input, w.Code, w.Body)
		}
		var ans struct {
			ResponseStatus json.RawMessage `json:"response_status"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || len(ans.ResponseStatus) == 0 {
			t.Fatalf("%s %s %q: not an SDP answer: %s", tg.method, tg.path, input, w.Body)
		}
		if w.Code >= 400 && !strings.Contains(string(ans.ResponseStatus), `"failed"`) {
			t.Fatalf("%s %s %q: HTTP %d with a non-failure status: %s", tg.method, tg.path, input, w.Code, w.Body)
		}
	})
}

func formRequest(method, path, input string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(url.Values{"input_data": {input}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("authtoken", DefaultAuthToken)
	return r
}
