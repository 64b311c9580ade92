package faraday_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

// fakeFaraday starts a fake Faraday with workspace "acme" holding three
// vulns, and a read-only workspace "archive".
func fakeFaraday() *faradaytest.Server {
	srv := faradaytest.NewServer(faradaytest.WithToken("my-api-token"))
	must(srv.AddWorkspace(faraday.Workspace{Name: "acme", Active: true}))
	must(srv.AddWorkspace(faraday.Workspace{Name: "archive", ReadOnly: true}))
	for _, v := range []faraday.Vuln{
		{ID: 12, Name: "Apache Log4j RCE", Severity: faraday.SeverityCritical, Confirmed: true},
		{ID: 40, Name: "Reflected XSS", Severity: faraday.SeverityMedium, Confirmed: true},
		{ID: 41, Name: "Verbose banner", Severity: faraday.SeverityInformational},
	} {
		if _, err := srv.AddVuln("acme", v); err != nil {
			log.Fatal(err)
		}
	}
	return srv
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// List every confirmed vuln of a workspace, page by page, and close one.
func ExampleVulnsService_All() {
	srv := fakeFaraday()
	defer srv.Close()

	c, err := faraday.NewClient(srv.URL(), faraday.WithToken("my-api-token"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()

	opts := &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true), Sort: "id", PageSize: 1}
	for v, err := range c.Vulns.All(ctx, "acme", opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.ID, v.Name, v.Severity.APIName(), v.Status)
	}

	v, err := c.Vulns.UpdateStatus(ctx, "acme", 40, faraday.StatusClosed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("now", v.Status)
	// Output:
	// 12 Apache Log4j RCE critical open
	// 40 Reflected XSS med open
	// now closed
}

// A change to a read-only workspace fails with its own sentinel.
func ExampleErrReadOnlyWorkspace() {
	srv := fakeFaraday()
	defer srv.Close()
	c, err := faraday.NewClient(srv.URL(), faraday.WithToken("my-api-token"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()

	_, err = c.Vulns.BulkUpdateStatus(context.Background(), "archive", []int64{1, 2}, faraday.StatusRiskAccepted)
	var apiErr *faraday.Error
	if errors.Is(err, faraday.ErrReadOnlyWorkspace) && errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}
	// Output:
	// 403 Altering a readonly workspace is not allowed
}

// The filter language uses the stored severity names; its answers leave
// out the description and other text fields.
func ExampleVulnsService_Filter() {
	srv := fakeFaraday()
	defer srv.Close()
	c, err := faraday.NewClient(srv.URL(), faraday.WithToken("my-api-token"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()

	page, err := c.Vulns.Filter(context.Background(), "acme", faraday.FilterQuery{
		Filters: []faraday.Filter{{Name: "severity", Op: "in", Val: []string{
			faraday.SeverityCritical.String(), faraday.SeverityMedium.String(),
		}}},
		OrderBy: []faraday.Order{{Field: "id", Direction: faraday.SortDesc}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range page.Vulns {
		fmt.Println(v.ID, v.Name)
	}
	fmt.Println("count", page.Count)
	// Output:
	// 40 Reflected XSS
	// 12 Apache Log4j RCE
	// count 2
}

// Read a CSV export. Rows repeating an id are merged; the record says how.
func ExampleExportReader() {
	export := `confirmed,id,name,severity,status,hostnames,web_vulnerability,desc
TRUE,7,SQL injection,critical,open,"['db.example.com']",TRUE,"The ""id"" parameter
reaches the query."
TRUE,7,SQL injection,critical,open,"['db2.example.com']",FALSE,
FALSE,8,Old TLS,low,opened,[],FALSE,TLS 1.0 is enabled.
`
	r, err := faraday.NewExportReader(strings.NewReader(export), faraday.WithExportWorkspace("acme"))
	if err != nil {
		log.Fatal(err)
	}
	for rec, err := range r.All() {
		if err != nil {
			fmt.Println("skipped:", err)
			continue
		}
		v := rec.Vuln
		fmt.Printf("%d %q %s %s %v rows=%d conflicts=%v\n", v.ID, v.Name, v.Severity, v.Type, v.Hostnames, rec.Rows, rec.Conflicts)
	}
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// 7 "SQL injection" critical VulnerabilityWeb [db.example.com db2.example.com] rows=2 conflicts=[web_vulnerability]
	// 8 "Old TLS" low Vulnerability [] rows=1 conflicts=[]
	// {Rows:3 Records:2 Merged:1 Repeated:0 Malformed:0}
}

// A client with the habits a server process wants: an API token, a bound
// on every attempt, a few quick retries and a request rate it never
// exceeds. NewClient does no I/O and checks every option.
func ExampleNewClient() {
	c, err := faraday.NewClient("https://faraday.example.com",
		faraday.WithToken("eyJhbGciOiJIUzUxMiJ9.example.token"),
		faraday.WithTimeout(10*time.Second),
		faraday.WithRetry(3, 100*time.Millisecond, 2*time.Second),
		faraday.WithRateLimit(rate.Limit(20), 5),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())

	_, err = faraday.NewClient("https://admin:password@faraday.example.com")
	fmt.Println(errors.Is(err, faraday.ErrInvalidOption), strings.Contains(err.Error(), "password"))
	// Output:
	// https://faraday.example.com/
	// true false
}
