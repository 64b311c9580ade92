package sdptest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// faradayPayload is the payload the integration's setup guide has an SDP
// admin type into the webhook.
const faradayPayload = `{
"status": "${{request.status}}",
"desc": "${{request.description}}",
"Authorization": "FARADAY_ACCESS_TOKEN"
}`

// receiver is a webhook endpoint that answers 200 (or status, when set).
func receiver(t *testing.T, status *atomic.Int32) *httptest.Server {
	t.Helper()
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		code := http.StatusOK
		if status != nil && status.Load() != 0 {
			code = int(status.Load())
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func waitN(t *testing.T, s *sdptest.Server, n int) []sdptest.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := s.Wait(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestTriggerEcho pushes statuses through the API and the fake UI and
// checks they come back through the trigger as SDP would send them.
func TestTriggerEcho(t *testing.T) {
	s := newServer(t)
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{
		Name: "Faraday Status Sync", Modified: []string{"status.name"},
		URL: rs.URL + "/_api/v3/integrations/mesd/update-issue", Headers: map[string]string{"X-ServiceDesk-Token": "1"},
		Payload: faradayPayload,
	}))
	c := newClient(t, s)
	ctx := context.Background()
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Description: "<p>plain</p>"})
	if err != nil {
		t.Fatal(err)
	}
	// Not a status change: no delivery.
	if _, err := c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Subject: "renamed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "In Progress"}}); err != nil {
		t.Fatal(err)
	}
	must(t, s.SetStatus(string(r.ID), "On Hold"))
	if err := c.Requests.Close(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	ds := waitN(t, s, 3)
	if len(ds) != 3 {
		t.Fatalf("deliveries = %d, want 3", len(ds))
	}
	for i, want := range []string{"In Progress", "On Hold", "Closed"} {
		d := ds[i]
		var body struct{ Status, Desc, Authorization string }
		if err := json.Unmarshal(d.Body, &body); err != nil {
			t.Fatalf("delivery %d is not JSON: %v: %s", i, err, d.Body)
		}
		if body.Status != want || body.Desc != "<p>plain</p>" || body.Authorization != "FARADAY_ACCESS_TOKEN" {
			t.Errorf("delivery %d body = %+v", i, body)
		}
		if d.Status != 200 || string(d.Answer) != `{"ok":true}` || d.Header.Get("X-ServiceDesk-Token") != "1" ||
			d.Method != http.MethodPost || d.RequestID != string(r.ID) || !strings.HasSuffix(d.URL, "/update-issue") {
			t.Errorf("delivery %d = %+v", i, d)
		}
	}
	if err := s.SetStatus(string(r.ID), "Reopened"); err == nil || !strings.Contains(err.Error(), "4001") {
		t.Errorf("SetStatus to an unknown status = %v", err)
	}
	if err := s.SetStatus("99999", "Open"); err == nil || !strings.Contains(err.Error(), "4007") {
		t.Errorf("SetStatus of an unknown request = %v", err)
	}
}

// TestTriggerRawSubstitution: SDP substitutes raw, so a description with a
// quote yields invalid JSON; EscapeJSON gives valid JSON instead.
func TestTriggerRawSubstitution(t *testing.T) {
	s := newServer(t)
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "raw", URL: rs.URL, Payload: faradayPayload, Modified: []string{"status.name"}}))
	must(t, s.AddTrigger(sdptest.Trigger{Name: "escaped", URL: rs.URL + "/?id=${{request.id}}&s=${{request.status}}", Payload: faradayPayload,
		Modified: []string{"status.name"}, EscapeJSON: true}))
	c := newClient(t, s)
	ctx := context.Background()
	desc := `<p>She said "hi"` + "\n" + `\o/</p>`
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "q", Description: desc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "Resolved"}}); err != nil {
		t.Fatal(err)
	}
	ds := waitN(t, s, 2)
	raw, esc := ds[0], ds[1]
	if raw.Trigger != "raw" || json.Valid(raw.Body) || !strings.Contains(string(raw.Body), desc) {
		t.Errorf("raw delivery is valid JSON or lacks the raw description: %s", raw.Body)
	}
	var body struct{ Status, Desc string }
	if err := json.Unmarshal(esc.Body, &body); err != nil || body.Desc != desc || body.Status != "Resolved" {
		t.Errorf("escaped delivery = %+v, %v", body, err)
	}
	if !strings.HasSuffix(esc.URL, "/?id="+string(r.ID)+"&s=Resolved") {
		t.Errorf("URL = %s", esc.URL)
	}
}

func TestTriggerOnCreateAndCriteria(t *testing.T) {
	s := newServer(t)
	rs := receiver(t, nil)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "new urgent", On: []sdptest.TriggerAction{sdptest.OnCreate}, URL: rs.URL,
		When:    []sdptest.WhenCriterion{{Field: "priority.name", Condition: "is", Values: []string{"Urgent"}}},
		Payload: `{"id":"${{request.id}}","subject":"${{request.subject}}","priority":"${{request.priority}}","created":"${{request.created_time}}"}`}))
	c := newClient(t, s)
	ctx := context.Background()
	if _, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "calm", Priority: &servicedesk.Ref{Name: "Low"}}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "fire", Priority: &servicedesk.Ref{Name: "Urgent"}})
	if err != nil {
		t.Fatal(err)
	}
	ds := waitN(t, s, 1)
	var body map[string]string
	if err := json.Unmarshal(ds[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["id"] != string(r.ID) || body["subject"] != "fire" || body["priority"] != "Urgent" || body["created"] != r.CreatedTime.Display {
		t.Errorf("body = %v", body)
	}
	if n := len(s.Deliveries()); n != 1 {
		t.Errorf("deliveries = %d, want 1", n)
	}

	for _, bad := range []sdptest.Trigger{
		{Name: "", URL: rs.URL},
		{Name: "x", URL: "not a url"},
		{Name: "x", URL: rs.URL, Payload: "${{request.colour}}"},
		{Name: "x", URL: rs.URL, Payload: "${{ticket.id}}"},
		{Name: "x", URL: rs.URL, Modified: []string{"nope"}},
		{Name: "x", URL: rs.URL, When: []sdptest.WhenCriterion{{Field: "status.name", Condition: "resembles", Values: []string{"a"}}}},
	} {
		if err := s.AddTrigger(bad); err == nil {
			t.Errorf("AddTrigger(%+v) accepted", bad)
		}
	}
}

func TestDeliveryFaults(t *testing.T) {
	s := newServer(t)
	var status atomic.Int32
	rs := receiver(t, &status)
	must(t, s.AddTrigger(sdptest.Trigger{Name: "sync", URL: rs.URL, Payload: `{"s":"${{request.status}}"}`}))
	must(t, s.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.DeliveryFailed, Times: 1}))
	must(t, s.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.DeliveryTwice, Trigger: "sync", Times: 1}))
	c := newClient(t, s)
	ctx := context.Background()
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x"})
	if err != nil {
		t.Fatal(err)
	}
	id := string(r.ID)
	must(t, s.SetStatus(id, "In Progress")) // dropped
	must(t, s.SetStatus(id, "On Hold"))     // sent twice
	waitN(t, s, 3)
	status.Store(http.StatusServiceUnavailable)
	must(t, s.SetStatus(id, "Resolved")) // answered 503
	ds := waitN(t, s, 4)
	if ds[0].Fault != sdptest.DeliveryFailed || ds[0].Err == "" || ds[0].Status != 0 {
		t.Errorf("first = %+v", ds[0])
	}
	if ds[1].Fault != sdptest.DeliveryTwice || ds[2].Fault != sdptest.DeliveryTwice || string(ds[1].Body) != `{"s":"On Hold"}` ||
		string(ds[2].Body) != string(ds[1].Body) || ds[1].Status != 200 || ds[2].Status != 200 {
		t.Errorf("duplicated = %+v / %+v", ds[1], ds[2])
	}
	if ds[3].Status != 503 || string(ds[3].Body) != `{"s":"Resolved"}` || ds[3].Fault != sdptest.NoFault {
		t.Errorf("last = %+v", ds[3])
	}
	if s.FaultCount(sdptest.DeliveryFailed) != 1 || s.FaultCount(sdptest.DeliveryTwice) != 1 {
		t.Errorf("counts: failed %d twice %d", s.FaultCount(sdptest.DeliveryFailed), s.FaultCount(sdptest.DeliveryTwice))
	}
	if err := s.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.Latency}); err == nil {
		t.Error("a latency delivery fault was accepted")
	}
}

// TestCloseStopsDeliveries: Close cancels a delivery stuck on a slow
// receiver and leaves nothing running (goleak checks at exit).
func TestCloseStopsDeliveries(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	s := sdptest.NewServer()
	must(t, s.AddTrigger(sdptest.Trigger{Name: "slow", URL: slow.URL, Payload: "{}"}))
	hc := &http.Client{Transport: transport(t)}
	a := rawCall(t, s, hc, http.MethodPost, "/requests", `{"request":{"subject":"x"}}`)
	id := a.json(t)["request"].(map[string]any)["id"].(string)
	must(t, s.SetStatus(id, "Resolved"))
	must(t, s.SetStatus(id, "Closed"))
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := s.SetStatus(id, "Open"); err != nil {
		t.Errorf("state is readable after Close: %v", err)
	}
}
