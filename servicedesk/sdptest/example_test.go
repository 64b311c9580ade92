package sdptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// A test replaces the seeded lookups with its instance's own.
func ExampleWithSeed() {
	seed := sdptest.DefaultSeed()
	seed.Priorities = []sdptest.SeedPriority{{Name: "P4"}, {Name: "P3"}, {Name: "P2"}, {Name: "P1", Color: "#ff0000"}}
	srv := sdptest.NewServer(sdptest.WithSeed(seed))
	defer srv.Close()

	id, _ := srv.ID("priority", "p1")
	fmt.Println(id, srv.Seed().Priorities[3].Name)
	// Output: 4 P1
}

// The cloud flavour serves the API under /app/<portal>/api/v3 and issues
// access tokens from its fake Zoho accounts endpoint.
func ExampleWithCloud() {
	srv := sdptest.NewServer(sdptest.WithCloud("itdesk"))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	resp, err := hc.PostForm(srv.AccountsURL()+"/oauth/v2/token", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {sdptest.DefaultClientID},
		"client_secret": {sdptest.DefaultClientSecret}, "refresh_token": {sdptest.DefaultRefreshToken},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := http.NewRequest(http.MethodGet, srv.APIURL()+"/statuses", nil)
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok.AccessToken)
	req.Header.Set("Accept", servicedesk.MediaType)
	resp, err = hc.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()
	fmt.Println(strings.TrimPrefix(srv.APIURL(), srv.URL()), tok.ExpiresIn, resp.StatusCode)
	// Output: /app/itdesk/api/v3 3600 200
}
