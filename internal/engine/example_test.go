package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// Prepare once, export, and export again: the second run finds every vuln
// linked and makes no ServiceDesk call.
func Example() {
	ctx := context.Background()
	srv := sdptest.NewServer() // a fake ServiceDesk Plus
	defer srv.Close()
	sdp, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := engine.New(engine.Config{SDP: sdp, Mapping: cfg, Links: faraday.NewMemoryLinkStore()})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := eng.Prepare(ctx); err != nil {
		fmt.Println(err) // every configuration problem at once
		return
	}
	vs := []*faraday.Vuln{
		{ID: 1, WorkspaceName: "acme", Name: "SQL injection", Severity: faraday.SeverityCritical, Status: faraday.StatusOpen, Confirmed: true},
		{ID: 2, WorkspaceName: "acme", Name: "Weak TLS", Severity: faraday.SeverityLow, Status: faraday.StatusOpen, Confirmed: true},
		{ID: 3, WorkspaceName: "acme", Name: "Maybe", Severity: faraday.SeverityHigh, Status: faraday.StatusOpen},
	}
	source := func(yield func(*faraday.Vuln, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
	rep, err := eng.Export(ctx, source, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range rep.Items {
		fmt.Println(strings.TrimSpace(fmt.Sprint(it.Key, " ", it.Outcome, " ", it.Reason)))
	}
	srv.ResetCalls()
	rep, _ = eng.Export(ctx, source, nil)
	fmt.Println("second run:", rep.UpToDate, "up to date,", rep.Created, "created,", len(srv.Calls()), "calls")
	// Unordered output:
	// acme/3 skipped not confirmed
	// acme/1 created
	// acme/2 created
	// second run: 2 up to date, 0 created, 0 calls
}

// Push status changes, then catch a ticket change whose webhook delivery
// was missed.
func ExampleEngine_ReconcileIncoming() {
	ctx := context.Background()
	var mu sync.Mutex
	sdpClock := time.Now()
	srv := sdptest.NewServer(sdptest.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return sdpClock }))
	defer srv.Close()
	sdp, _ := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(srv.Client()))
	data, _ := os.ReadFile("testdata/config.json")
	cfg, _ := mapping.LoadConfig(data)
	eng, _ := engine.New(engine.Config{SDP: sdp, Mapping: cfg, Links: faraday.NewMemoryLinkStore()})
	if err := eng.Prepare(ctx); err != nil {
		fmt.Println(err)
		return
	}
	v := &faraday.Vuln{ID: 9, WorkspaceName: "acme", Name: "Open port", Severity: faraday.SeverityMedium, Status: faraday.StatusOpen, Confirmed: true}
	source := func(yield func(*faraday.Vuln, error) bool) { yield(v, nil) }
	rep, _ := eng.Export(ctx, source, nil)
	ticket := rep.Items[0].TicketID

	// Faraday accepts the risk: the status goes out as "On Hold".
	v.Status = faraday.StatusRiskAccepted
	rep, _ = eng.Export(ctx, source, &engine.ExportOptions{PushStatus: true})
	fmt.Println(rep.Items[0].Outcome, rep.Items[0].Status)

	// An hour later a technician resolves the ticket; no webhook is set
	// up to tell us.
	mu.Lock()
	sdpClock = time.Now().Add(time.Hour)
	mu.Unlock()
	_ = srv.SetStatus(ticket, "Resolved")
	statuses := webhook.NewMemoryVulnStore() // the host's vuln statuses
	statuses.Put(faraday.VulnKey{Workspace: "acme", VulnID: 9}, v.Status)
	rep, _ = eng.ReconcileIncoming(ctx, source, statuses, nil)
	st, _ := statuses.Status(ctx, faraday.VulnKey{Workspace: "acme", VulnID: 9})
	fmt.Println(rep.Items[0].Outcome, st)
	// Output:
	// pushed On Hold
	// pushed closed
}
