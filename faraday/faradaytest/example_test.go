package faradaytest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

// Seed a fake Faraday, change a vuln through the client, read the state
// back from the fake.
func Example() {
	srv := faradaytest.NewServer(faradaytest.WithUser("alice", "s3cret"))
	defer srv.Close()
	if err := srv.AddWorkspace(faraday.Workspace{Name: "acme", Active: true}); err != nil {
		log.Fatal(err)
	}
	id, err := srv.AddVuln("acme", faraday.Vuln{Name: "Open redirect", Severity: faraday.SeverityLow, Confirmed: true})
	if err != nil {
		log.Fatal(err)
	}

	c, err := faraday.NewClient(srv.URL(), faraday.WithBasicAuth("alice", "s3cret"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	n, err := c.Vulns.BulkUpdateStatus(context.Background(), "acme", []int64{id}, faraday.StatusRiskAccepted)
	if err != nil {
		log.Fatal(err)
	}

	v, _ := srv.Vuln("acme", id)
	fmt.Println(n, v.ID, v.Name, v.Status)
	// Output:
	// 1 1 Open redirect risk-accepted
}
