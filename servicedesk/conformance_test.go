package servicedesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
)

// The conformance test serves every recorded SDP body that belongs to an
// endpoint of this client through the whole client (mock transport under
// the retry layer) and checks the decoded values against values it reads
// from the same file at run time. Files of endpoints the client does not
// have yet are listed with the reason; a file in neither list fails the
// test, so a new recording forces a decision.

// notCovered lists the fixture files the conformance test leaves out.
var notCovered = map[string]string{
	"rapid7_onprem/add_resolution.json":                         "POST /requests/{id}/resolutions: resolutions are not in this client yet",
	"rapid7_onprem/get_resolution.json":                         "GET /requests/{id}/resolutions: resolutions are not in this client yet",
	"xsoar_cloud/resolution.json":                               "GET /requests/{id}/resolutions: resolutions are not in this client yet",
	"rapid7_onprem/assign_request.json":                         "PUT /requests/{id}/assign: assign is not in this client yet",
	"rapid7_onprem/pickup_request.json":                         "PUT /requests/{id}/pickup: pick-up is not in this client yet",
	"rapid7_onprem/delete_request.json":                         "DELETE /requests/{id}/move_to_trash: delete is not in this client yet",
	"rapid7_onprem/delete_request_request_already_deleted.json": "DELETE /requests/{id}/move_to_trash (4016): delete is not in this client yet",
	"rapid7_onprem/delete_request_note.json":                    "DELETE /requests/{id}/notes/{note_id}: note deletion is not in this client yet",
	"rapid7_onprem/edit_request_note.json":                      "PUT /requests/{id}/notes/{note_id}: note editing is not in this client yet",
	"xsoar_cloud/link_request.json":                             "POST /requests/{id}/link_requests: links are not in this client yet",
	"xsoar_cloud/linked_requests_list.json":                     "GET /requests/{id}/link_requests: links are not in this client yet",
}

// tokenCases are the recorded answers of the Zoho accounts token
// endpoint: each is served to a ZohoTokenSource, whose decoder must read
// the values the file holds.
var tokenCases = map[string]func(t *testing.T, body []byte){
	"xsoar_cloud/zoho_token_response.json": checkZohoTokenFixture,
}

func checkZohoTokenFixture(t *testing.T, body []byte) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(t0)
	// Served twice: the second refresh must still send our refresh token,
	// not the one the answer happens to carry.
	z, srv := newZoho(t, clock, string(body), string(body))
	tok, err := z.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok != str(raw, "access_token") {
		t.Errorf("access token %q, file has %q", tok, str(raw, "access_token"))
	}
	if want := t0.Add(time.Duration(num(raw, "expires_in")) * time.Second); !z.Expiry().Equal(want) {
		t.Errorf("expiry %v, want now + the file's expires_in (%v)", z.Expiry(), want)
	}
	if z.APIDomain() != str(raw, "api_domain") {
		t.Errorf("api domain %q, file has %q", z.APIDomain(), str(raw, "api_domain"))
	}
	req, _ := http.NewRequest(http.MethodGet, "https://sdp.test/", nil)
	if err := z.Authenticate(req); err != nil || req.Header.Get("Authorization") != "Zoho-oauthtoken "+str(raw, "access_token") {
		t.Fatalf("Authorization %q, %v", req.Header.Get("Authorization"), err)
	}
	clock.Advance(servicedesk.ZohoFreshTokenAge) // an old enough token is renewed
	if retry, err := z.Reauthenticate(context.Background(), req); !retry || err != nil || srv.count() != 2 {
		t.Fatalf("Reauthenticate = %v, %v after %d refreshes", retry, err, srv.count())
	}
}

// fixtureCase serves one file for one call and checks the outcome.
type fixtureCase struct {
	method, path string // path relative to the API base
	status       int    // HTTP status to serve the body with
	run          func(t *testing.T, c *servicedesk.Client, raw map[string]any)
}

func conformanceCases() map[string]fixtureCase {
	get := func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
		r, err := c.Requests.Get(context.Background(), servicedesk.ID(str(raw, "request.id")))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checkRequest(t, obj(raw, "request"), r)
	}
	create := func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
		r, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: str(raw, "request.subject")})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		checkRequest(t, obj(raw, "request"), r)
	}
	update := func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
		r, err := c.Requests.Update(context.Background(), servicedesk.ID(str(raw, "request.id")), &servicedesk.RequestInput{Subject: str(raw, "request.subject")})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		checkRequest(t, obj(raw, "request"), r)
	}
	list := func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
		l, err := c.Requests.List(context.Background(), nil)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		rows := raw["requests"].([]any)
		if len(l.Requests) != len(rows) {
			t.Fatalf("List returned %d requests, file has %d", len(l.Requests), len(rows))
		}
		for i, row := range rows {
			checkRequest(t, row.(map[string]any), l.Requests[i])
		}
		checkListInfo(t, obj(raw, "list_info"), l.ListInfo)
	}
	wantError := func(sentinel error, call func(*servicedesk.Client) error) func(*testing.T, *servicedesk.Client, map[string]any) {
		return func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
			err := call(c)
			if !errors.Is(err, sentinel) {
				t.Fatalf("error %v, want %v", err, sentinel)
			}
			se := asError(t, err)
			rs := obj(raw, "response_status")
			if se.StatusCode != num(rs, "status_code") {
				t.Errorf("StatusCode %d, file has %d", se.StatusCode, num(rs, "status_code"))
			}
			msgs := rs["messages"].([]any)
			if len(se.Messages) != len(msgs) {
				t.Fatalf("%d messages, file has %d", len(se.Messages), len(msgs))
			}
			for i, m := range msgs {
				m := m.(map[string]any)
				got := se.Messages[i]
				if got.StatusCode != num(m, "status_code") || got.Message != str(m, "message") || got.Field != str(m, "field") || got.Type != str(m, "type") {
					t.Errorf("message %d = %+v, file has %v", i, got, m)
				}
			}
		}
	}
	getErr := func(c *servicedesk.Client) error { _, err := c.Requests.Get(context.Background(), "71"); return err }
	return map[string]fixtureCase{
		"rapid7_onprem/get_request.json":                 {"GET", "requests/{id}", 200, get},
		"rapid7_onprem/add_request.json":                 {"POST", "requests", 201, create},
		"rapid7_onprem/edit_request.json":                {"PUT", "requests/{id}", 200, update},
		"xsoar_cloud/create_request.json":                {"POST", "requests", 201, create},
		"rapid7_onprem/get_list_request.json":            {"GET", "requests", 200, list},
		"xsoar_cloud/list_requests_search_criteria.json": {"GET", "requests", 200, list},
		"misc/list_minimal_response_status_array.json":   {"GET", "requests", 200, list},
		"rapid7_onprem/add_request_note.json": {"POST", "requests/200/notes", 201, func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
			n, err := c.Requests.AddNote(context.Background(), "200", &servicedesk.NoteInput{Description: str(raw, "note.description")})
			if err != nil {
				t.Fatalf("AddNote: %v", err)
			}
			checkNote(t, obj(raw, "note"), n)
		}},
		"rapid7_onprem/get_list_request_notes.json": {"GET", "requests/42/notes", 200, func(t *testing.T, c *servicedesk.Client, raw map[string]any) {
			l, err := c.Requests.ListNotes(context.Background(), "42", nil)
			if err != nil {
				t.Fatalf("ListNotes: %v", err)
			}
			rows := raw["notes"].([]any)
			if len(l.Notes) != len(rows) {
				t.Fatalf("%d notes, file has %d", len(l.Notes), len(rows))
			}
			for i, row := range rows {
				checkNote(t, row.(map[string]any), l.Notes[i])
			}
			checkListInfo(t, obj(raw, "list_info"), l.ListInfo)
		}},
		"rapid7_onprem/close_request.json": {"PUT", "requests/71/close", 200, func(t *testing.T, c *servicedesk.Client, _ map[string]any) {
			if err := c.Requests.Close(context.Background(), "71", &servicedesk.ClosureInfo{ClosureComments: "done"}); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}},
		"rapid7_onprem/close_request_request_already_closed.json": {"PUT", "requests/71/close", 400,
			wantError(servicedesk.ErrAlreadyClosed, func(c *servicedesk.Client) error { return c.Requests.Close(context.Background(), "71", nil) })},
		"rapid7_onprem/add_request_incorrect_level.json": {"POST", "requests", 400, wantError(servicedesk.ErrInvalidInput, func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "s", Level: &servicedesk.Ref{Name: "Tier 9"}})
			return err
		})},
		"rapid7_onprem/get_list_request_invalid_sort_field.json": {"GET", "requests", 400, wantError(servicedesk.ErrInvalidInput, func(c *servicedesk.Client) error {
			_, err := c.Requests.List(context.Background(), &servicedesk.ListOptions{SortField: "nope"})
			return err
		})},
		"rapid7_onprem/request_not_found.json":     {"GET", "requests/71", 404, wantError(servicedesk.ErrNotFound, getErr)},
		"misc/error_4007_invalid_url_http404.json": {"GET", "requests/71", 404, wantError(servicedesk.ErrNotFound, getErr)},
		"misc/error_4002_forbidden_http403.json":   {"GET", "requests/71", 403, wantError(servicedesk.ErrForbidden, getErr)},
		"rapid7_onprem/note_not_found.json": {"GET", "requests/71/notes", 404, wantError(servicedesk.ErrNotFound, func(c *servicedesk.Client) error {
			_, err := c.Requests.ListNotes(context.Background(), "71", nil)
			return err
		})},
	}
}

func TestConformanceWithRecordedBodies(t *testing.T) {
	t.Parallel()
	root := testutil.Fixture(t, "servicedesk")
	files, err := filepath.Glob(filepath.Join(root, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s: %v", root, err)
	}
	cases := conformanceCases()
	seen := map[string]bool{}
	for _, f := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(f, root+string(filepath.Separator)))
		seen[rel] = true
		if reason, ok := notCovered[rel]; ok {
			t.Logf("not covered: %s: %s", rel, reason)
			continue
		}
		if check, ok := tokenCases[rel]; ok {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(rel, func(t *testing.T) {
				t.Parallel()
				check(t, body)
			})
			continue
		}
		tc, ok := cases[rel]
		if !ok {
			t.Errorf("fixture %s is neither checked nor listed in notCovered", rel)
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			for _, status := range []int{tc.status, http.StatusOK} {
				if status == http.StatusOK && tc.status < 300 {
					continue
				}
				// Errors are served twice: with the HTTP status SDP pairs
				// with the code, and inside a 200, where only the SDP code
				// can say what went wrong.
				c, mock := newMockClient(t, servicedesk.WithRetry(0, 0, 0))
				path := strings.ReplaceAll(tc.path, "{id}", str(raw, "request.id"))
				mock.RegisterResponder(tc.method, apiURL+path, sdpJSON(status, string(body)))
				tc.run(t, c, raw)
				if n := calls(mock, tc.method, path); n != 1 {
					t.Fatalf("HTTP %d: %s %s called %d times, want 1", status, tc.method, path, n)
				}
			}
		})
	}
	for rel := range cases {
		if !seen[rel] {
			t.Errorf("checked fixture %s is missing", rel)
		}
	}
	for rel := range tokenCases {
		if !seen[rel] {
			t.Errorf("checked fixture %s is missing", rel)
		}
	}
	for rel := range notCovered {
		if !seen[rel] {
			t.Errorf("notCovered lists %s, which is missing", rel)
		}
	}
}

// walk returns the value at a dotted path of decoded JSON.
func walk(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func obj(m map[string]any, path string) map[string]any {
	o, _ := walk(m, path).(map[string]any)
	return o
}

func str(m map[string]any, path string) string {
	switch v := walk(m, path).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func num(m map[string]any, path string) int {
	n, _ := strconv.Atoi(str(m, path))
	return n
}

func ms(m map[string]any, path string) int64 {
	n, _ := strconv.ParseInt(str(m, path), 10, 64)
	return n
}

func checkRequest(t *testing.T, raw map[string]any, r *servicedesk.Request) {
	t.Helper()
	id := str(raw, "id")
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request %s: %s = %#v, file has %#v", id, what, got, want)
		}
	}
	eq("id", string(r.ID), id)
	eq("display_id", string(r.DisplayID), str(raw, "display_id"))
	eq("subject", r.Subject, str(raw, "subject"))
	eq("description", r.Description, str(raw, "description"))
	eq("short_description", r.ShortDescription, str(raw, "short_description"))

	refs := map[string]func() (servicedesk.ID, string, bool){
		"status":      func() (servicedesk.ID, string, bool) { return idName(r.Status != nil, r.Status) },
		"priority":    func() (servicedesk.ID, string, bool) { return idName(r.Priority != nil, r.Priority) },
		"template":    func() (servicedesk.ID, string, bool) { return idName(r.Template != nil, r.Template) },
		"group":       func() (servicedesk.ID, string, bool) { return idName(r.Group != nil, r.Group) },
		"category":    func() (servicedesk.ID, string, bool) { return idName(r.Category != nil, r.Category) },
		"subcategory": func() (servicedesk.ID, string, bool) { return idName(r.Subcategory != nil, r.Subcategory) },
		"item":        func() (servicedesk.ID, string, bool) { return idName(r.Item != nil, r.Item) },
		"site":        func() (servicedesk.ID, string, bool) { return idName(r.Site != nil, r.Site) },
		"urgency":     func() (servicedesk.ID, string, bool) { return idName(r.Urgency != nil, r.Urgency) },
		"impact":      func() (servicedesk.ID, string, bool) { return idName(r.Impact != nil, r.Impact) },
		"level":       func() (servicedesk.ID, string, bool) { return idName(r.Level != nil, r.Level) },
		"mode":        func() (servicedesk.ID, string, bool) { return idName(r.Mode != nil, r.Mode) },
		"request_type": func() (servicedesk.ID, string, bool) {
			return idName(r.RequestType != nil, r.RequestType)
		},
		"service_category": func() (servicedesk.ID, string, bool) {
			return idName(r.ServiceCategory != nil, r.ServiceCategory)
		},
		"sla":        func() (servicedesk.ID, string, bool) { return idName(r.SLA != nil, r.SLA) },
		"requester":  func() (servicedesk.ID, string, bool) { return idName(r.Requester != nil, r.Requester) },
		"technician": func() (servicedesk.ID, string, bool) { return idName(r.Technician != nil, r.Technician) },
		"created_by": func() (servicedesk.ID, string, bool) { return idName(r.CreatedBy != nil, r.CreatedBy) },
	}
	for key, get := range refs {
		gotID, gotName, present := get()
		o := obj(raw, key)
		eq(key+" present", present, o != nil)
		if o != nil {
			eq(key+".id", string(gotID), str(o, "id"))
			eq(key+".name", gotName, str(o, "name"))
		}
	}
	if s := obj(raw, "status"); s != nil {
		eq("status.internal_name", r.Status.InternalName, str(s, "internal_name"))
		eq("status.in_progress", r.Status.InProgress, walk(s, "in_progress") == true)
		eq("status.stop_timer", r.Status.StopTimer, walk(s, "stop_timer") == true)
		eq("status.color", r.Status.Color, str(s, "color"))
	}
	if p := obj(raw, "priority"); p != nil {
		eq("priority.color", r.Priority.Color, str(p, "color"))
	}
	if tp := obj(raw, "template"); tp != nil {
		eq("template.is_service_template", r.Template.IsServiceTemplate, walk(tp, "is_service_template") == true)
	}
	for key, u := range map[string]*servicedesk.User{"requester": r.Requester, "technician": r.Technician, "created_by": r.CreatedBy} {
		if o := obj(raw, key); o != nil {
			eq(key+".email_id", u.EmailID, str(o, "email_id"))
			eq(key+".phone", u.Phone, str(o, "phone"))
			eq(key+".vip", u.IsVIPUser, walk(o, "is_vipuser") == true || walk(o, "is_vip_user") == true)
			eq(key+".is_technician", u.IsTechnician, walk(o, "is_technician") == true)
		}
	}
	times := map[string]*servicedesk.DateTime{
		"created_time": r.CreatedTime, "last_updated_time": r.LastUpdatedTime, "assigned_time": r.AssignedTime,
		"due_by_time": r.DueByTime, "first_response_due_by_time": r.FirstResponseDueByTime,
		"responded_time": r.RespondedTime, "resolved_time": r.ResolvedTime, "completed_time": r.CompletedTime,
		"scheduled_start_time": r.ScheduledStartTime, "scheduled_end_time": r.ScheduledEndTime, "deleted_time": r.DeletedTime,
	}
	for key, tm := range times {
		o := obj(raw, key)
		eq(key+" present", tm != nil, o != nil)
		if o != nil && tm != nil {
			eq(key+".value", tm.Millis, ms(o, "value"))
			eq(key+".display_value", tm.Display, str(o, "display_value"))
			eq(key+" as time", tm.Time().UnixMilli(), ms(o, "value"))
		}
	}
	if o := obj(raw, "onhold_time"); o != nil {
		eq("onhold_time.value", r.OnholdTime.Millis, ms(o, "value"))
		eq("onhold_time.display_value", r.OnholdTime.Display, str(o, "display_value"))
	} else {
		eq("onhold_time present", r.OnholdTime != nil, false)
	}
	if _, ok := raw["time_elapsed"].(string); ok {
		eq("time_elapsed", r.TimeElapsed.Millis, ms(raw, "time_elapsed"))
	}
	for key, got := range map[string]bool{
		"has_notes": r.HasNotes, "has_attachments": r.HasAttachments, "has_linked_requests": r.HasLinkedRequests,
		"is_overdue": r.IsOverdue, "is_service_request": r.IsServiceRequest, "is_trashed": r.IsTrashed,
		"is_read": r.IsRead, "is_escalated": r.IsEscalated, "is_reopened": r.IsReopened, "is_fcr": r.IsFCR,
	} {
		eq(key, got, raw[key] == true)
	}
	var notify []string
	for _, e := range walkSlice(raw, "email_ids_to_notify") {
		notify = append(notify, e.(string))
	}
	eq("email_ids_to_notify", strings.Join(r.EmailIDsToNotify, ","), strings.Join(notify, ","))
	eq("udf_fields keys", sortedKeys(r.UDFFields), sortedKeys(obj(raw, "udf_fields")))
	var assets []string
	for _, a := range r.Assets {
		assets = append(assets, string(a.ID)+"/"+a.Name)
	}
	var wantAssets []string
	for _, a := range walkSlice(raw, "assets") {
		wantAssets = append(wantAssets, str(a.(map[string]any), "id")+"/"+str(a.(map[string]any), "name"))
	}
	eq("assets", strings.Join(assets, ","), strings.Join(wantAssets, ","))
}

func walkSlice(m map[string]any, path string) []any {
	s, _ := walk(m, path).([]any)
	return s
}

func sortedKeys(m map[string]any) []string {
	ks := []string{}
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// idName reads ID and Name of any of the lookup types through reflection,
// so that one table covers them all.
func idName(present bool, v any) (servicedesk.ID, string, bool) {
	if !present {
		return "", "", false
	}
	rv := reflect.ValueOf(v).Elem()
	return rv.FieldByName("ID").Interface().(servicedesk.ID), rv.FieldByName("Name").String(), true
}

func checkListInfo(t *testing.T, raw map[string]any, li servicedesk.ListInfo) {
	t.Helper()
	want := servicedesk.ListInfo{
		HasMoreRows: walk(raw, "has_more_rows") == true,
		RowCount:    num(raw, "row_count"),
		StartIndex:  num(raw, "start_index"),
		TotalCount:  num(raw, "total_count"),
		SortField:   str(raw, "sort_field"),
		SortOrder:   str(raw, "sort_order"),
	}
	if li != want {
		t.Errorf("list_info = %+v, file has %+v", li, want)
	}
}

func checkNote(t *testing.T, raw map[string]any, n *servicedesk.Note) {
	t.Helper()
	if string(n.ID) != str(raw, "id") || n.Description != str(raw, "description") || n.ShowToRequester != (raw["show_to_requester"] == true) {
		t.Errorf("note = %+v, file has %v", n, raw)
	}
	if n.Request == nil || string(n.Request.ID) != str(raw, "request.id") || n.Request.Subject != str(raw, "request.subject") {
		t.Errorf("note %s request = %+v, file has %v", n.ID, n.Request, raw["request"])
	}
	for key, tm := range map[string]*servicedesk.DateTime{"added_time": n.AddedTime, "last_updated_time": n.LastUpdatedTime} {
		if tm == nil || tm.Millis != ms(raw, key+".value") || tm.Display != str(raw, key+".display_value") {
			t.Errorf("note %s %s = %+v, file has %v", n.ID, key, tm, raw[key])
		}
	}
	for key, u := range map[string]*servicedesk.User{"added_by": n.AddedBy, "last_updated_by": n.LastUpdatedBy} {
		if u == nil || string(u.ID) != str(raw, key+".id") || u.Name != str(raw, key+".name") {
			t.Errorf("note %s %s = %+v, file has %v", n.ID, key, u, raw[key])
		}
	}
}

// TestRequestRoundTrip encodes every recorded request the client decodes
// and decodes it again: the result must still carry every value of the
// file (checkRequest), so a fake server or a cache can store the client's
// types and serve them back.
func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for rel, tc := range conformanceCases() {
		if tc.status >= 300 {
			continue
		}
		var raw struct {
			Request  map[string]any   `json:"request"`
			Requests []map[string]any `json:"requests"`
		}
		if err := json.Unmarshal(testutil.ReadFixture(t, "servicedesk", rel), &raw); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		rows := raw.Requests
		if raw.Request != nil {
			rows = append(rows, raw.Request)
		}
		for _, row := range rows {
			orig, _ := json.Marshal(row)
			var r servicedesk.Request
			if err := json.Unmarshal(orig, &r); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			b, err := json.Marshal(&r)
			if err != nil {
				t.Fatalf("%s: request %s: Marshal: %v", rel, r.ID, err)
			}
			var back servicedesk.Request
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("%s: request %s: decoding own output: %v", rel, r.ID, err)
			}
			t.Run(rel+"/"+string(r.ID), func(t *testing.T) { checkRequest(t, row, &back) })
		}
	}
}

// TestRetriedCloseWithRecordedAnswer replays SDP's recorded "already
// closed" answer to the retry of a close whose first answer was lost.
func TestRetriedCloseWithRecordedAnswer(t *testing.T) {
	t.Parallel()
	body := testutil.ReadFixture(t, "servicedesk", "rapid7_onprem", "close_request_request_already_closed.json")
	c, mock := newMockClient(t)
	mock.RegisterResponder("PUT", apiURL+"requests/71/close",
		httpmock.NewErrorResponder(timeoutError{}).Then(sdpJSON(400, string(body))))
	if err := c.Requests.Close(context.Background(), "71", nil); err != nil {
		t.Fatalf("Close: %v, want nil", err)
	}
	if n := calls(mock, "PUT", "requests/71/close"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}
