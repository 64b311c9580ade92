package sample_test

import (
	"fmt"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/mapping"
)

// The sample vulns, ready to load into a fake Faraday.
func ExampleVulns() {
	vulns, err := sample.Vulns()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range vulns {
		fmt.Printf("%s/%d %-13s confirmed=%-5v web=%v\n", v.WorkspaceName, v.ID, v.Severity, v.Confirmed, v.IsWeb())
	}
	// Output:
	// acme/1 critical      confirmed=true  web=false
	// acme/2 high          confirmed=true  web=true
	// acme/3 medium        confirmed=true  web=true
	// acme/4 low           confirmed=true  web=false
	// acme/5 informational confirmed=true  web=false
	// acme/6 unclassified  confirmed=true  web=false
	// acme/7 high          confirmed=false web=true
	// acme/8 medium        confirmed=false web=false
}

// The sample configuration's incoming map: what a ticket status change does
// to its vuln.
func ExampleConfigJSON() {
	cfg, err := mapping.LoadConfig(sample.ConfigJSON())
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := mapping.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"Resolved", "On Hold", "Canceled"} {
		in := m.Incoming(s)
		if in.Action == mapping.Apply {
			fmt.Println(s, "→", in.Status)
		} else {
			fmt.Println(s, "→", in.Action)
		}
	}
	// Output:
	// Resolved → closed
	// On Hold → risk-accepted
	// Canceled → ignored
}
