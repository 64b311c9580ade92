package faraday

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseIssueTrackerForms(t *testing.T) {
	entry := `{"state": "linked", "request_id": "100000000000123", "display_id": "123", "url": "https://sdp.example.com/ui/requests?id=123", "template": "Default Request", "created_at": "2026-03-01T10:00:00+00:00", "last_pushed_status": "Closed", "last_pushed_at": "2026-03-02T10:00:00.5+00:00"}`
	obj := `{"service_desk": ` + entry + `, "jira": {"key": "SEC-1",  "spaced": [1, 2]}}`
	objStr, _ := json.Marshal(obj)
	forms := map[string]bool{ // text → has entries
		"":               false,
		"  \n":           false,
		"{}":             false,
		` { } `:          false,
		`""`:             false,
		`"{}"`:           false,
		"null":           false,
		obj:              true,
		string(objStr):   true,
		" " + obj + "\n": true,
	}
	for text, has := range forms {
		it, err := ParseIssueTracker(text)
		if err != nil {
			t.Errorf("ParseIssueTracker(%q): %v", text, err)
			continue
		}
		if it.IsEmpty() == has {
			t.Errorf("ParseIssueTracker(%q).IsEmpty() = %v", text, it.IsEmpty())
		}
		if !has {
			continue
		}
		want := &ServiceDeskEntry{
			State: LinkLinked, RequestID: "100000000000123", DisplayID: "123",
			URL: "https://sdp.example.com/ui/requests?id=123", Template: "Default Request",
			CreatedAt:        NewTime(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)),
			LastPushedStatus: "Closed",
			LastPushedAt:     NewTime(time.Date(2026, 3, 2, 10, 0, 0, 500000000, time.UTC)),
		}
		if !reflect.DeepEqual(it.ServiceDesk, want) {
			t.Errorf("entry = %+v\nwant %+v", it.ServiceDesk, want)
		}
		if string(it.Other["jira"]) != `{"key": "SEC-1",  "spaced": [1, 2]}` {
			t.Errorf("jira entry = %s", it.Other["jira"])
		}
	}
}

func TestIssueTrackerOtherTrackersSurvive(t *testing.T) {
	text := `{"gitlab": {"issue_iid": 7, "url": "https://gl/x/-/issues/7"}, "jira":{"key":"SEC-1","extra":{"deep":[true,null,1.50]}}, "service_desk": {"state": "pending", "tag": "[FRD acme/12]"}}`
	it, err := ParseIssueTracker(text)
	if err != nil {
		t.Fatal(err)
	}
	it.ServiceDesk = &ServiceDeskEntry{State: LinkLinked, Tag: "[FRD acme/12]", RequestID: "55"}
	out, err := it.ColumnText()
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"gitlab":{"issue_iid": 7, "url": "https://gl/x/-/issues/7"}`, `"jira":{"key":"SEC-1","extra":{"deep":[true,null,1.50]}}`} {
		if !strings.Contains(out, part) {
			t.Errorf("column text %s lost %s", out, part)
		}
	}
	back, err := ParseIssueTracker(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.ServiceDesk.RequestID != "55" || back.ServiceDesk.State != LinkLinked || len(back.Other) != 2 {
		t.Errorf("back = %+v", back)
	}
	// Through the API form inside a Vuln too.
	v := Vuln{Severity: SeverityLow, Status: StatusOpen, IssueTracker: it}
	b, err := json.Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	var v2 Vuln
	if err := json.Unmarshal(b, &v2); err != nil {
		t.Fatal(err)
	}
	var a, c any
	_ = json.Unmarshal(v.IssueTracker.Other["jira"], &a)
	_ = json.Unmarshal(v2.IssueTracker.Other["jira"], &c)
	if !reflect.DeepEqual(a, c) || !reflect.DeepEqual(v2.IssueTracker.ServiceDesk, it.ServiceDesk) {
		t.Errorf("API round trip lost entries: %+v", v2.IssueTracker)
	}
}

func TestIssueTrackerEmptyColumnText(t *testing.T) {
	s, err := IssueTracker{}.ColumnText()
	if err != nil || s != "{}" {
		t.Errorf("empty ColumnText = %q, %v", s, err)
	}
	if b, _ := json.Marshal(IssueTracker{}); string(b) != "{}" {
		t.Errorf("empty MarshalJSON = %s", b)
	}
}

func TestParseIssueTrackerErrors(t *testing.T) {
	cases := map[string]string{
		"[]":                                     "array",
		"42":                                     "number",
		"true":                                   "boolean",
		"hello":                                  "not JSON",
		`{"a": }`:                                "syntax error",
		`"\"{}\""`:                               "nested",
		`"[1]"`:                                  "array",
		`{"service_desk": {"state": "x"}}`:       "state",
		`{"service_desk": {"state": "pending"}}`: "tag",
		`{"service_desk": {"state": "linked"}}`:  "request_id",
		`{"service_desk": {"request_id": true}}`: "request_id",
		`{"service_desk": {"request_id": 5.5}}`:  "request_id",
		`{"service_desk": []}`:                   "service_desk",
		`{"service_desk": {"state": "linked", "request_id": "1", "created_at": "soon"}}`: "soon",
	}
	for in, want := range cases {
		_, err := ParseIssueTracker(in)
		if !errors.Is(err, ErrInvalidIssueTracker) && !errors.Is(err, ErrInvalidTime) {
			t.Errorf("ParseIssueTracker(%q) = %v; want ErrInvalidIssueTracker", in, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParseIssueTracker(%q) error %q does not mention %q", in, err, want)
		}
	}
	// A legacy entry with a request id and no state is linked.
	it, err := ParseIssueTracker(`{"service_desk": {"request_id": "9"}}`)
	if err != nil || it.ServiceDesk.State != LinkLinked {
		t.Errorf("stateless entry = %+v, %v", it.ServiceDesk, err)
	}
	// An explicit null entry means none.
	it, err = ParseIssueTracker(`{"service_desk": null, "x": 1}`)
	if err != nil || it.ServiceDesk != nil || string(it.Other["x"]) != "1" {
		t.Errorf("null entry = %+v, %v", it, err)
	}
}

func FuzzParseIssueTracker(f *testing.F) {
	for _, s := range []string{
		"", "{}", `"{}"`, "null", "[]",
		`{"service_desk": {"state": "linked", "request_id": "1", "created_at": "2026-03-01T10:00:00+00:00", "last_incoming": {"status": "Closed", "change_id": "7"}}}`,
		`"{\"service_desk\": {\"state\": \"pending\", \"tag\": \"[FRD a/1]\"}, \"jira\": [1]}"`,
		`{"gitlab": {"a": "\u00e9"}, "service_desk": null}`,
		`{"service_desk": {"request_id": 12, "display_id": -3, "future": {"k": [1, "x"]}, "state": "linked"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		it, err := ParseIssueTracker(in)
		if err != nil {
			return
		}
		text, err := it.ColumnText()
		if err != nil {
			t.Fatalf("ColumnText after a successful parse of %q: %v", in, err)
		}
		back, err := ParseIssueTracker(text)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", text, err)
		}
		again, err := back.ColumnText()
		if err != nil || again != text {
			t.Fatalf("column text not stable: %q then %q (%v)", text, again, err)
		}
	})
}
