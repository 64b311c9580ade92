package sdptest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// kind is the JSON type of a decoded value.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

// shapeDiff lists where fake's shape departs from rec's: a key of the
// recording missing from the fake, a JSON type that differs (null is
// compatible with anything, as values depend on state), and at the paths
// in exact, a key the recording does not have. Array elements are compared
// with the recording's first element.
func shapeDiff(path string, rec, fake any, exact map[string]bool, out *[]string) {
	if rec == nil || fake == nil {
		return
	}
	if kind(rec) != kind(fake) {
		*out = append(*out, fmt.Sprintf("%s: recording has %s, fake %s", path, kind(rec), kind(fake)))
		return
	}
	switch r := rec.(type) {
	case map[string]any:
		f := fake.(map[string]any)
		for _, k := range sortedKeys(r) {
			if _, ok := f[k]; !ok {
				*out = append(*out, fmt.Sprintf("%s.%s: missing from the fake", path, k))
				continue
			}
			shapeDiff(path+"."+k, r[k], f[k], exact, out)
		}
		if exact[path] {
			for _, k := range sortedKeys(f) {
				if _, ok := r[k]; !ok {
					*out = append(*out, fmt.Sprintf("%s.%s: not in the recording", path, k))
				}
			}
		}
	case []any:
		f := fake.([]any)
		if len(r) == 0 {
			return
		}
		for _, x := range f {
			shapeDiff(path+"[]", r[0], x, exact, out)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %.200s", err, b)
	}
	return v
}

var exactPaths = map[string]bool{
	"$": true, "$.request": true, "$.requests[]": true, "$.note": true, "$.notes[]": true,
	"$.response_status": true, "$.response_status[]": true, "$.response_status.messages[]": true, "$.resolution": true,
}

// TestParity answers each recorded call the fake serves and compares the
// shapes. Recordings of calls the fake does not serve (note edit and
// delete, links, the 4002 permission error) are left out.
func TestParity(t *testing.T) {
	onprem := newServer(t)
	cloud := cloudServer(t)
	hc := &http.Client{Transport: transport(t)}

	create := func(s *sdptest.Server, input string) string {
		a := rawCall(t, s, hc, http.MethodPost, "/requests", input)
		if a.status != http.StatusCreated {
			t.Fatalf("create: HTTP %d %s", a.status, a.body)
		}
		return a.json(t)["request"].(map[string]any)["id"].(string)
	}
	full := `{"request":{"subject":"Parity","description":"<p>d</p>","priority":{"name":"Low"},"level":{"name":"Tier 4"},
		"mode":{"name":"Web Form"},"urgency":{"name":"Urgent"},"impact":{"name":"Affects Group"},"site":{"name":"Headquarters"},
		"category":{"name":"Software"},"subcategory":{"name":"MS Office"},"request_type":{"name":"Incident"},
		"technician":{"name":"administrator"},"group":{"name":"Network"},"email_ids_to_notify":["user@example.com"],
		"due_by_time":{"value":"1893456000000"}}}`
	id := create(onprem, full)
	closedID := create(onprem, `{"request":{"subject":"to close"}}`)
	trashID := create(onprem, `{"request":{"subject":"to trash"}}`)
	cloudID := create(cloud, `{"request":{"subject":"cloud resolution"}}`)
	if a := rawCall(t, cloud, hc, "POST", "/requests/"+cloudID+"/resolutions", `{"resolution":{"content":"<p>patched</p>"}}`); a.status != 200 {
		t.Fatalf("cloud resolution: HTTP %d %s", a.status, a.body)
	}
	noteID := ""

	type pcase struct {
		fixture []string
		server  *sdptest.Server
		method  string
		path    string
		input   string
		status  int
		exact   map[string]bool
	}
	cases := []pcase{
		{[]string{"rapid7_onprem", "add_request.json"}, onprem, "POST", "/requests", full, 201, exactPaths},
		{[]string{"rapid7_onprem", "get_request.json"}, onprem, "GET", "/requests/" + id, "", 200, exactPaths},
		{[]string{"rapid7_onprem", "edit_request.json"}, onprem, "PUT", "/requests/" + id, `{"request":{"status":{"name":"On Hold"},"subject":"Parity edited"}}`, 200, exactPaths},
		{[]string{"rapid7_onprem", "get_list_request.json"}, onprem, "GET", "/requests",
			`{"list_info":{"row_count":10,"start_index":1,"sort_field":"created_time","sort_order":"desc"}}`, 200, withExact("$.list_info")},
		{[]string{"rapid7_onprem", "add_request_note.json"}, onprem, "POST", "/requests/" + id + "/notes",
			`{"note":{"description":"<p>note</p>","show_to_requester":true}}`, 201, exactPaths},
		{[]string{"rapid7_onprem", "get_list_request_notes.json"}, onprem, "GET", "/requests/" + id + "/notes",
			`{"list_info":{"row_count":10,"sort_field":"last_updated_time","sort_order":"asc"}}`, 200, withExact("$.list_info")},
		{[]string{"rapid7_onprem", "close_request.json"}, onprem, "PUT", "/requests/" + closedID + "/close",
			`{"request":{"closure_info":{"requester_ack_resolution":true,"closure_comments":"done"}}}`, 200, exactPaths},
		{[]string{"rapid7_onprem", "close_request_request_already_closed.json"}, onprem, "PUT", "/requests/" + closedID + "/close",
			`{"request":{"closure_info":{"closure_comments":"again"}}}`, 400, exactPaths},
		{[]string{"rapid7_onprem", "assign_request.json"}, onprem, "PUT", "/requests/" + id + "/assign",
			`{"request":{"group":{"name":"Security Team"},"technician":{"name":"Sam Okafor"}}}`, 200, exactPaths},
		{[]string{"rapid7_onprem", "pickup_request.json"}, onprem, "PUT", "/requests/" + id + "/pickup", "", 200, exactPaths},
		{[]string{"rapid7_onprem", "add_resolution.json"}, onprem, "POST", "/requests/" + id + "/resolutions",
			`{"resolution":{"content":"<p>patched</p>","add_to_linked_requests":false}}`, 200, exactPaths},
		{[]string{"rapid7_onprem", "get_resolution.json"}, onprem, "GET", "/requests/" + id + "/resolutions", "", 200, exactPaths},
		{[]string{"rapid7_onprem", "delete_request.json"}, onprem, "DELETE", "/requests/" + trashID + "/move_to_trash", "", 200, exactPaths},
		{[]string{"rapid7_onprem", "delete_request_request_already_deleted.json"}, onprem, "DELETE", "/requests/" + trashID + "/move_to_trash", "", 400, exactPaths},
		{[]string{"xsoar_cloud", "resolution.json"}, cloud, "GET", "/requests/" + cloudID + "/resolutions", "", 200, exactPaths},
		{[]string{"rapid7_onprem", "add_request_incorrect_level.json"}, onprem, "POST", "/requests",
			`{"request":{"subject":"x","level":{"name":"Tier 9"}}}`, 400, exactPaths},
		{[]string{"rapid7_onprem", "get_list_request_invalid_sort_field.json"}, onprem, "GET", "/requests",
			`{"list_info":{"sort_field":"no_such_field"}}`, 400, exactPaths},
		{[]string{"rapid7_onprem", "request_not_found.json"}, onprem, "GET", "/requests/424242", "", 404, exactPaths},
		{[]string{"rapid7_onprem", "note_not_found.json"}, onprem, "GET", "/requests/" + id + "/notes/424242", "", 404, exactPaths},
		{[]string{"misc", "error_4007_invalid_url_http404.json"}, onprem, "GET", "/no_such_module", "", 404, exactPaths},
		{[]string{"misc", "list_minimal_response_status_array.json"}, onprem, "GET", "/requests",
			`{"list_info":{"row_count":2,"fields_required":["id"]}}`, 200, exactPaths},
		{[]string{"xsoar_cloud", "create_request.json"}, cloud, "POST", "/requests",
			`{"request":{"subject":"Cloud parity","description":"d","status":{"name":"On Hold"},"priority":{"name":"High"},"group":{"name":"Network"},
			"level":{"name":"Tier 1"},"impact":{"name":"Affects Group"},"urgency":{"name":"Normal"},"mode":{"name":"E-Mail"},"request_type":{"name":"Incident"}}}`, 201, exactPaths},
		{[]string{"xsoar_cloud", "list_requests_search_criteria.json"}, cloud, "GET", "/requests",
			`{"list_info":{"sort_field":"created_time","sort_order":"asc","search_criteria":[{"field":"created_time","condition":"between","values":["0","9999999999999"]}]}}`,
			200, withExact("$.list_info")},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.fixture, "/"), func(t *testing.T) {
			rec := decodeAny(t, testutil.ReadFixture(t, append([]string{"servicedesk"}, tc.fixture...)...))
			a := rawCall(t, tc.server, hc, tc.method, tc.path, tc.input)
			if a.status != tc.status {
				t.Errorf("HTTP %d, want %d: %.300s", a.status, tc.status, a.body)
			}
			var diffs []string
			shapeDiff("$", rec, decodeAny(t, a.body), tc.exact, &diffs)
			for _, d := range diffs {
				t.Error(d)
			}
			if tc.fixture[1] == "add_request_note.json" {
				noteID = a.json(t)["note"].(map[string]any)["id"].(string)
			}
		})
	}
	if noteID == "" {
		t.Error("no note was created")
	}

	t.Run("xsoar_cloud/zoho_token_response.json", func(t *testing.T) {
		rec := decodeAny(t, testutil.ReadFixture(t, "servicedesk", "xsoar_cloud", "zoho_token_response.json")).(map[string]any)
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {sdptest.DefaultClientID},
			"client_secret": {sdptest.DefaultClientSecret}, "refresh_token": {sdptest.DefaultRefreshToken}}
		resp, err := hc.PostForm(cloud.AccountsURL()+"/oauth/v2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fake := decodeAny(t, b).(map[string]any)
		// The recording answers the authorization-code grant and so carries
		// a refresh_token; a refresh_token grant answers without one.
		delete(rec, "refresh_token")
		var diffs []string
		shapeDiff("$", rec, fake, map[string]bool{"$": true}, &diffs)
		for _, d := range diffs {
			t.Error(d)
		}
	})
}

func withExact(extra ...string) map[string]bool {
	m := map[string]bool{}
	for k, v := range exactPaths {
		m[k] = v
	}
	for _, k := range extra {
		m[k] = true
	}
	return m
}

// TestLookupShapes checks the lookups whose shapes only the reference
// describes (§6 and §9): keys, JSON types and the seeded values.
func TestLookupShapes(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		t.Run(fmt.Sprint("cloud=", cloud), func(t *testing.T) {
			s := newServer(t)
			vip := "is_vipuser"
			if cloud {
				s, vip = cloudServer(t), "is_vip_user"
			}
			hc := &http.Client{Transport: transport(t)}
			get := func(path, input string) map[string]any {
				t.Helper()
				a := rawCall(t, s, hc, http.MethodGet, path, input)
				if a.status != 200 {
					t.Fatalf("GET %s: HTTP %d %s", path, a.status, a.body)
				}
				return a.json(t)
			}
			list := func(path, key, input string) []map[string]any {
				t.Helper()
				m := get(path, input)
				if rs, ok := m["response_status"].([]any); !ok || len(rs) != 1 {
					t.Errorf("%s: response_status is not an array of one: %v", path, m["response_status"])
				}
				if _, ok := m["list_info"].(map[string]any)["has_more_rows"].(bool); !ok {
					t.Errorf("%s: list_info.has_more_rows is not a boolean", path)
				}
				var out []map[string]any
				for _, x := range m[key].([]any) {
					out = append(out, x.(map[string]any))
				}
				return out
			}
			types := func(what string, obj map[string]any, want map[string]string) {
				t.Helper()
				for k, ty := range want {
					v, ok := obj[k]
					if !ok {
						t.Errorf("%s: no %q", what, k)
					} else if got := kind(v); got != ty && got != "null" {
						t.Errorf("%s.%s is %s, want %s", what, k, got, ty)
					}
				}
			}
			names := func(rows []map[string]any) []string {
				var n []string
				for _, r := range rows {
					n = append(n, r["name"].(string))
				}
				return n
			}
			seed := sdptest.DefaultSeed()

			prs := list("/priorities", "priorities", "")
			for _, p := range prs {
				types("priority", p, map[string]string{"id": "string", "name": "string", "color": "string"})
			}
			if got := names(prs); !slices.Equal(got, []string{"Low", "Medium", "High", "Urgent"}) {
				t.Errorf("priorities = %v", got)
			}
			one := get("/priorities/"+prs[2]["id"].(string), "")
			if one["priority"].(map[string]any)["name"] != "High" || kind(one["response_status"]) != "object" {
				t.Errorf("single priority = %v", one)
			}
			sts := list("/statuses", "statuses", "")
			for _, st := range sts {
				types("status", st, map[string]string{"id": "string", "name": "string", "color": "string", "in_progress": "bool", "internal_name": "string", "stop_timer": "bool"})
			}
			if len(sts) != 6 || sts[2]["internal_name"] != "Onhold" || sts[2]["stop_timer"] != true || sts[3]["in_progress"] != false {
				t.Errorf("statuses = %v", sts)
			}
			for _, lk := range []struct {
				path, key string
				want      []string
			}{{"/urgencies", "urgencies", seed.Urgencies}, {"/impacts", "impacts", seed.Impacts}, {"/support_groups", "support_groups", seed.Groups}, {"/sites", "sites", seed.Sites}} {
				if got := names(list(lk.path, lk.key, "")); !slices.Equal(got, lk.want) {
					t.Errorf("%s = %v, want %v", lk.path, got, lk.want)
				}
			}

			userKeys := map[string]string{"id": "string", "name": "string", "first_name": "string", "last_name": "string", "login_name": "string",
				"email_id": "string", "phone": "string", "mobile": "string", "jobtitle": "string", "employee_id": "string", vip: "bool",
				"is_technician": "bool", "department": "object", "reporting_to": "object"}
			alex := list("/users", "users", `{"list_info":{"search_criteria":{"field":"name","condition":"contains","value":"alex"}}}`)
			if len(alex) != 2 || alex[0]["id"] == alex[1]["id"] || alex[0]["name"] != alex[1]["name"] || alex[0]["email_id"] == alex[1]["email_id"] {
				t.Errorf("users named Alex = %v", alex)
			}
			for _, u := range alex {
				types("user", u, userKeys)
			}
			byMail := list("/users", "users", `{"list_info":{"search_fields":{"email_id":"DANA.REYES@example.com"}}}`)
			if len(byMail) != 1 || byMail[0]["login_name"] != "dreyes" {
				t.Errorf("user by email = %v", byMail)
			}
			techs := list("/technicians", "technicians", `{"list_info":{"row_count":100}}`)
			if got := names(techs); !slices.Equal(got, []string{"administrator", "Dana Reyes", "Sam Okafor"}) {
				t.Errorf("technicians = %v", got)
			}

			tpls := list("/request_templates", "request_templates", `{"list_info":{"search_fields":{"is_service_template":false}}}`)
			if got := names(tpls); !slices.Equal(got, []string{sdptest.DefaultTemplate, sdptest.VulnTemplate}) {
				t.Errorf("templates = %v", got)
			}
			for _, tp := range tpls {
				types("template", tp, map[string]string{"id": "string", "name": "string", "image": "string", "inactive": "bool", "comments": "string",
					"is_service_template": "bool", "service_category": "object", "show_to_requester": "bool", "is_default": "bool"})
			}
			tpl := get("/request_templates/"+tpls[1]["id"].(string), "")["request_template"].(map[string]any)
			types("request_template", tpl, map[string]string{"id": "string", "name": "string", "image": "string", "is_default": "bool",
				"is_service_template": "bool", "is_customer_segmented": "bool", "inactive": "bool", "comments": "string",
				"request": "object", "layouts": "array", "has_tasks": "bool", "has_checklists": "bool"})
			lay := get("/request_templates/"+tpls[1]["id"].(string)+"/layouts", "")["layouts"].([]any)
			field := lay[0].(map[string]any)["sections"].([]any)[0].(map[string]any)["fields"].([]any)[0].(map[string]any)
			types("layout field", field, map[string]string{"name": "string", "template_id": "string", "default_value": "array", "scopings": "array"})

			cats := list("/categories", "categories", "")
			subs := list("/categories/"+cats[0]["id"].(string)+"/subcategories", "subcategories", "")
			items := list("/subcategories/"+subs[0]["id"].(string)+"/items", "items", "")
			if cats[0]["name"] != "Security" || subs[0]["name"] != "Vulnerability" || !slices.Equal(names(items), seed.Categories[0].Subcategories[0].Items) {
				t.Errorf("category tree: %v / %v / %v", cats[0], subs[0], names(items))
			}
			meta := get("/requests/_metainfo", "")["metainfo"].(map[string]any)["fields"].(map[string]any)["udf_fields"].(map[string]any)["fields"].(map[string]any)
			udf, ok := meta[sdptest.VulnUDF].(map[string]any)
			if !ok || udf["display_name"] != "CVE" || udf["type"] != "string" {
				t.Errorf("metainfo udf = %v", meta)
			}
		})
	}
}

// TestSeedReplaced runs a server on a seed of the test's own, with more
// users than one page holds.
func TestSeedReplaced(t *testing.T) {
	sd := sdptest.DefaultSeed()
	sd.Priorities = []sdptest.SeedPriority{{Name: "P3"}, {Name: "P2"}, {Name: "P1"}}
	for i := range 150 {
		sd.Users = append(sd.Users, sdptest.SeedUser{Name: fmt.Sprintf("User %03d", i), LoginName: fmt.Sprintf("u%03d", i)})
	}
	s := newServer(t, sdptest.WithSeed(sd))
	sd.Priorities[0].Name = "changed after start"
	hc := &http.Client{Transport: transport(t)}
	m := rawCall(t, s, hc, http.MethodGet, "/priorities", "").json(t)
	if got := m["priorities"].([]any)[0].(map[string]any)["name"]; got != "P3" {
		t.Errorf("first priority = %v", got)
	}
	page := rawCall(t, s, hc, http.MethodGet, "/users", `{"list_info":{"row_count":100,"start_index":101,"get_total_count":true}}`).json(t)
	li := page["list_info"].(map[string]any)
	if len(page["users"].([]any)) != 56 || li["has_more_rows"] != false || li["total_count"] != float64(156) {
		t.Errorf("second page: %d users, list_info %v", len(page["users"].([]any)), li)
	}
	a := rawCall(t, s, hc, http.MethodPost, "/requests", `{"request":{"subject":"x","priority":{"name":"High"}}}`)
	if a.status != 400 {
		t.Errorf("a priority of the default seed was accepted: %s", a.body)
	}
}

func TestSeedValidate(t *testing.T) {
	sd := sdptest.DefaultSeed()
	if err := sd.Validate(); err != nil {
		t.Fatalf("default seed: %v", err)
	}
	sd.Statuses = append(sd.Statuses, sdptest.SeedStatus{Name: "open", InternalName: "Closed"})
	sd.Templates[1].Mandatory = append(sd.Templates[1].Mandatory, "udf_fields.udf_nope", "colour")
	sd.DefaultStatus = "Pending"
	sd.Users[0].IsTechnician = false
	err := sd.Validate()
	for _, want := range []string{"the first a technician", `Statuses[6] "open" is a duplicate`, `want exactly one status with InternalName "Closed", have 2`,
		`DefaultStatus "Pending"`, `Templates[1].Mandatory[2] "udf_fields.udf_nope"`, `Templates[1].Mandatory[3] "colour"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to report %s", err, want)
		}
	}
}

// TestShapeDiff makes sure the parity comparison can fail.
func TestShapeDiff(t *testing.T) {
	rec := map[string]any{"a": "x", "b": map[string]any{"c": 1.0}, "n": nil, "l": []any{map[string]any{"k": true}}}
	fake := map[string]any{"a": 1.0, "b": map[string]any{}, "n": "anything", "l": []any{map[string]any{"k": "no"}}, "extra": nil}
	var diffs []string
	shapeDiff("$", rec, fake, map[string]bool{"$": true}, &diffs)
	want := []string{"$.a: recording has string, fake number", "$.b.c: missing from the fake", "$.l[].k: recording has bool, fake string", "$.extra: not in the recording"}
	if !slices.Equal(diffs, want) {
		t.Errorf("diffs = %q\nwant %q", diffs, want)
	}
}

// TestBadOptions: NewServer panics with the option's error.
func TestBadOptions(t *testing.T) {
	bad := sdptest.DefaultSeed()
	bad.Templates = nil
	for _, tc := range []struct {
		opt  sdptest.Option
		want string
	}{
		{sdptest.WithSeed(bad), "want exactly one IsDefault template"},
		{sdptest.WithCloud("it desk"), `portal "it desk"`},
		{sdptest.WithAuthTokens(), "no token"},
		{sdptest.WithAccessTokenTTL(0), "not positive"},
		{sdptest.WithClock(nil), "nil clock"},
		{nil, "option 0 is nil"},
	} {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.want) {
					t.Errorf("panic %v, want one saying %q", r, tc.want)
				}
			}()
			s := sdptest.NewServer(tc.opt)
			s.Close()
		}()
	}
	s := newServer(t)
	if err := s.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: 404}); err == nil || !strings.Contains(err.Error(), "want 5xx") {
		t.Errorf("AddFault 404 = %v", err)
	}
	if err := s.AddFault(sdptest.Fault{Kind: sdptest.RateLimit}); err == nil {
		t.Error("a RateLimit fault without PerSecond was accepted")
	}
	if err := s.AddFault(sdptest.Fault{Kind: sdptest.DeliveryTwice}); err == nil {
		t.Error("a delivery fault was accepted as an API fault")
	}
	if err := s.AddFault(sdptest.Fault{Kind: sdptest.Latency, Latency: time.Millisecond, Path: "[bad"}); err == nil {
		t.Error("a bad path pattern was accepted")
	}
}
