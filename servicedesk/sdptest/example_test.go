package sdptest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// A host application tests its SDP code against the fake with no network.
func Example() {
	srv := sdptest.NewServer()
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	c, err := servicedesk.NewClient(srv.URL(),
		servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{
		Subject:  "[FRD acme/7] Outdated TLS",
		Priority: &servicedesk.Ref{Name: "High"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.ID, r.Status.Name, r.Priority.Name)

	_, err = c.Requests.Create(ctx, &servicedesk.RequestInput{
		Subject:  "no such priority",
		Priority: &servicedesk.Ref{Name: "Critical"},
	})
	var e *servicedesk.Error
	if errors.As(err, &e) {
		fmt.Println(e.Codes(), e.Fields())
	}
	// Output:
	// 1 Open High
	// [4001] [priority]
}

// A custom trigger sends its webhook when a technician changes a status in
// the web UI, with placeholders replaced raw.
func ExampleServer_AddTrigger() {
	got := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer hook.Close()
	srv := sdptest.NewServer()
	defer srv.Close()

	err := srv.AddTrigger(sdptest.Trigger{
		Name:     "Status sync",
		Modified: []string{"status.name"},
		URL:      hook.URL,
		Payload:  `{"id": "${{request.id}}", "status": "${{request.status}}"}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Edit("1", []byte(`{"request":{"status":{"name":"Resolved"}}}`)); err != nil {
		fmt.Println(err) // there is no request 1 yet
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, _ := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}))
	r, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.SetStatus(string(r.ID), "Resolved"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-got)
	// Output:
	// sdptest: edit of request 1: HTTP 404; 4007 Invalid URL
	// {"id": "1", "status": "Resolved"}
}

// Faults are switched on per method and path and counted.
func ExampleServer_AddFault() {
	srv := sdptest.NewServer()
	defer srv.Close()
	_ = srv.AddFault(sdptest.Fault{Kind: sdptest.TooManyRequests, Method: http.MethodPost, Path: "/requests", Times: 1, RetryAfter: "0"})
	_ = srv.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: http.StatusServiceUnavailable, Method: http.MethodGet, Path: "/requests/*", Times: 1})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, _ := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}), servicedesk.WithRetry(2, time.Millisecond, time.Millisecond))
	ctx := context.Background()
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "retried"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Requests.Get(ctx, r.ID); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(srv.FaultCount(sdptest.TooManyRequests), srv.FaultCount(sdptest.ServerError), len(srv.Calls()))
	// Output: 1 1 4
}
