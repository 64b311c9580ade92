package sdptest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// TestClientLifecycle runs create → get → list → update → note → close
// through servicedesk.Client, on both flavours.
func TestClientLifecycle(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		name := "onprem"
		if cloud {
			name = "cloud"
		}
		t.Run(name, func(t *testing.T) {
			var s *sdptest.Server
			if cloud {
				s = newServer(t, sdptest.WithCloud("helpdesk"))
			} else {
				s = newServer(t)
			}
			c := newClient(t, s)
			ctx := context.Background()

			created, err := c.Requests.Create(ctx, &servicedesk.RequestInput{
				Subject:     "[FRD acme/42] SQL injection in login",
				Description: "<p>Found by the scanner</p>",
				Requester:   &servicedesk.UserRef{EmailID: "priya.shah@example.com"},
				Technician:  &servicedesk.UserRef{Name: "Dana Reyes"},
				Priority:    &servicedesk.Ref{Name: "high"},
				Template:    &servicedesk.TemplateRef{Name: sdptest.VulnTemplate},
				Category:    &servicedesk.Ref{Name: "Security"},
				Subcategory: &servicedesk.Ref{Name: "Vulnerability"},
				Item:        &servicedesk.Ref{Name: "Web Application"},
				UDFFields:   map[string]any{sdptest.VulnUDF: "CVE-2024-0001"},
			})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if created.ID == "" || created.Status == nil || created.Status.Name != "Open" || created.Priority.Name != "High" ||
				created.Requester.Name != "Priya Shah" || created.Technician.Name != "Dana Reyes" || created.Item.Name != "Web Application" {
				t.Fatalf("created request = %+v", created)
			}
			if cloud != (created.DisplayID != "") || (cloud && len(created.ID) != 18) {
				t.Errorf("cloud=%v: id %q display_id %q", cloud, created.ID, created.DisplayID)
			}
			if got := created.UDFFields[sdptest.VulnUDF]; got != "CVE-2024-0001" {
				t.Errorf("udf = %v", got)
			}

			got, err := c.Requests.Get(ctx, created.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.Subject != created.Subject || got.Description != created.Description || got.CreatedTime == nil {
				t.Errorf("Get = %+v", got)
			}

			page, err := c.Requests.List(ctx, &servicedesk.ListOptions{
				SearchCriteria: []servicedesk.Criterion{{Field: "subject", Condition: servicedesk.Contains, Value: "[FRD acme/42]"}},
				GetTotalCount:  true,
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(page.Requests) != 1 || page.Requests[0].ID != created.ID || page.ListInfo.TotalCount != 1 || page.ListInfo.HasMoreRows {
				t.Fatalf("List = %+v", page)
			}

			upd, err := c.Requests.Update(ctx, created.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "In Progress"}, Priority: &servicedesk.Ref{Name: "Urgent"}})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if upd.Status.Name != "In Progress" || upd.Priority.Name != "Urgent" || upd.Subject != created.Subject || upd.LastUpdatedTime == nil {
				t.Errorf("Update = status %+v priority %+v", upd.Status, upd.Priority)
			}

			note, err := c.Requests.AddNote(ctx, created.ID, &servicedesk.NoteInput{Description: "<p>fixed in 2.1</p>", ShowToRequester: true})
			if err != nil {
				t.Fatalf("AddNote: %v", err)
			}
			notes, err := c.Requests.ListNotes(ctx, created.ID, nil)
			if err != nil || len(notes.Notes) != 1 || notes.Notes[0].ID != note.ID {
				t.Fatalf("ListNotes = %+v, %v", notes, err)
			}

			if err := c.Requests.Close(ctx, created.ID, &servicedesk.ClosureInfo{ClosureComments: "fixed", RequesterAckResolution: true}); err != nil {
				t.Fatalf("Close: %v", err)
			}
			closed, err := c.Requests.Get(ctx, created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if closed.Status.Name != "Closed" || closed.ClosureInfo == nil || closed.ClosureInfo.ClosureComments != "fixed" || closed.CompletedTime == nil && cloud {
				t.Errorf("after close: status %+v closure %+v", closed.Status, closed.ClosureInfo)
			}
			err = c.Requests.Close(ctx, created.ID, nil)
			if !errors.Is(err, servicedesk.ErrAlreadyClosed) || !errors.Is(err, servicedesk.ErrInvalidInput) {
				t.Errorf("second Close = %v, want ErrAlreadyClosed and ErrInvalidInput", err)
			}
			if stored := s.Requests(); len(stored) != 1 || stored[0].Status.Name != "Closed" {
				t.Errorf("stored = %+v", stored)
			}
		})
	}
}

// TestClientErrors checks that every error the fake gives surfaces through
// the client as the right typed error.
func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	c := newClient(t, s)
	good, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "base"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		call   func(c *servicedesk.Client) error
		want   error
		code   int
		fields []string
		http   int
	}{
		{"unknown priority", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Priority: &servicedesk.Ref{Name: "Critical"}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"priority"}, 400},
		{"unknown status", func(c *servicedesk.Client) error {
			_, err := c.Requests.Update(ctx, good.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "Reopened"}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"status"}, 400},
		{"unknown template", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Template: &servicedesk.TemplateRef{Name: "Nope"}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"template"}, 400},
		{"unknown requester", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Requester: &servicedesk.UserRef{EmailID: "nobody@example.com"}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"requester"}, 400},
		{"ambiguous requester name", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Requester: &servicedesk.UserRef{Name: sdptest.SharedUserName}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"requester"}, 400},
		{"subcategory of another category", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Category: &servicedesk.Ref{Name: "Network"}, Subcategory: &servicedesk.Ref{Name: "MS Office"}})
			return err
		}, servicedesk.ErrInvalidInput, 4001, []string{"subcategory"}, 400},
		{"mandatory fields", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Template: &servicedesk.TemplateRef{Name: sdptest.VulnTemplate}})
			return err
		}, servicedesk.ErrMandatoryField, 4012, []string{"category", "udf_fields." + sdptest.VulnUDF}, 400},
		{"mandatory UDF only", func(c *servicedesk.Client) error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Template: &servicedesk.TemplateRef{Name: sdptest.VulnTemplate}, Category: &servicedesk.Ref{Name: "Security"}})
			return err
		}, servicedesk.ErrMandatoryField, 4012, []string{"udf_fields." + sdptest.VulnUDF}, 400},
		{"unknown id", func(c *servicedesk.Client) error {
			_, err := c.Requests.Get(ctx, "99999")
			return err
		}, servicedesk.ErrNotFound, 4007, nil, 404},
		{"unknown id on close", func(c *servicedesk.Client) error {
			return c.Requests.Close(ctx, "99999", nil)
		}, servicedesk.ErrNotFound, 4007, nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			e := sdpError(t, err)
			if e.HTTPStatus != tc.http || !slices.Equal(e.Codes()[:1], []int{tc.code}) || !slices.Equal(e.Fields(), tc.fields) {
				t.Errorf("HTTP %d codes %v fields %q; want HTTP %d code %d fields %q", e.HTTPStatus, e.Codes(), e.Fields(), tc.http, tc.code, tc.fields)
			}
		})
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("failed creates stored requests: have %d, want 1", n)
	}

	t.Run("bad authtoken", func(t *testing.T) {
		bad := newClient(t, newServer(t, sdptest.WithAuthTokens("other-token")))
		_, err := bad.Requests.Get(ctx, "1")
		e := sdpError(t, err)
		if !errors.Is(err, servicedesk.ErrUnauthorized) || e.HTTPStatus != 401 || e.Codes()[0] != 4022 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("expired cloud token is renewed once", func(t *testing.T) {
		cs := newServer(t, sdptest.WithCloud(""))
		cc := newClient(t, cs)
		if _, err := cc.Requests.List(ctx, nil); err != nil {
			t.Fatal(err)
		}
		cs.ExpireAccessTokens()
		if _, err := cc.Requests.List(ctx, nil); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if n := cs.TokenGrants(); n != 2 {
			t.Errorf("token grants = %d, want 2", n)
		}
	})
	t.Run("cloud wrong Accept gets the login page", func(t *testing.T) {
		cs := newServer(t, sdptest.WithCloud(""))
		tr := transport(t)
		hc := &http.Client{Transport: acceptRewriter{next: tr}}
		cc := newClient(t, cs, servicedesk.WithHTTPClient(hc))
		_, err := cc.Requests.List(ctx, nil)
		e := sdpError(t, err)
		if !errors.Is(err, servicedesk.ErrUnexpectedContent) || e.HTTPStatus != 200 {
			t.Errorf("err = %v", err)
		}
	})
}

// acceptRewriter sends a plain JSON Accept header, as some old clients did.
type acceptRewriter struct{ next http.RoundTripper }

func (a acceptRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	return a.next.RoundTrip(r)
}

// TestClientFaults checks each API fault through the client and that it is
// counted.
func TestClientFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("429 with and without Retry-After, then success", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s)
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.TooManyRequests, Method: "POST", Path: "/requests", Times: 1, RetryAfter: "0"}))
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.TooManyRequests, Method: "POST", Path: "/requests", Times: 1}))
		if _, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x"}); err != nil {
			t.Fatalf("Create after two 429s: %v", err)
		}
		if n := s.FaultCount(sdptest.TooManyRequests); n != 2 {
			t.Errorf("429 count = %d", n)
		}
		calls := s.Calls()
		if len(calls) != 3 || calls[0].Status != 429 || calls[0].Code != 4015 || calls[2].Status != 201 {
			t.Errorf("calls = %+v", calls)
		}
		if len(s.Requests()) != 1 {
			t.Errorf("requests = %d, want 1 (429s are not applied)", len(s.Requests()))
		}
	})
	t.Run("429 that persists surfaces as ErrRateLimited", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s)
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.TooManyRequests, RetryAfter: "1"}))
		_, err := c.Requests.List(ctx, nil)
		e := sdpError(t, err)
		if !errors.Is(err, servicedesk.ErrRateLimited) || e.Attempts != 4 || e.RetryAfter != time.Second {
			t.Errorf("err = %v (attempts %d, retry-after %v)", err, e.Attempts, e.RetryAfter)
		}
	})
	for _, status := range []int{500, 502, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s)
			must(t, s.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: status, Method: "GET", Path: "/requests/*", Times: 2}))
			r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Requests.Get(ctx, r.ID)
			if status == 500 {
				// The client does not retry a 500: it surfaces.
				e := sdpError(t, err)
				if e.HTTPStatus != 500 || e.Codes()[0] != 4004 {
					t.Errorf("err = %v", err)
				}
			} else if err != nil {
				t.Errorf("Get after two %d: %v", status, err)
			}
			want := 2
			if status == 500 {
				want = 1
			}
			if n := s.FaultCount(sdptest.ServerError); n != want {
				t.Errorf("server error count = %d, want %d", n, want)
			}
		})
	}
	t.Run("latency", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s)
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.Latency, Latency: 30 * time.Millisecond, Path: "/requests"}))
		start := time.Now()
		if _, err := c.Requests.List(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("call took %v, want ≥ 30ms", d)
		}
		if s.FaultCount(sdptest.Latency) != 1 {
			t.Error("latency not counted")
		}
	})
	t.Run("close dropped after commit is retried and succeeds", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s)
		r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x"})
		if err != nil {
			t.Fatal(err)
		}
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.DropAfterCommit, Method: "PUT", Path: "/requests/*/close", Times: 1}))
		if err := c.Requests.Close(ctx, r.ID, nil); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got, _ := s.Request(string(r.ID))
		if got.Status.Name != "Closed" || s.FaultCount(sdptest.DropAfterCommit) != 1 {
			t.Errorf("status %q, drops %d", got.Status.Name, s.FaultCount(sdptest.DropAfterCommit))
		}
		calls := s.Calls()
		last := calls[len(calls)-1]
		if calls[len(calls)-2].Status != 0 || last.Code != 4001 {
			t.Errorf("calls = %+v", calls)
		}
	})
	t.Run("create dropped after commit is stored but not answered", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s)
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.DropAfterCommit, Method: "POST", Times: 1}))
		if _, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "[FRD a/1] once"}); err == nil {
			t.Fatal("Create succeeded over a dropped connection")
		}
		if rs := s.Requests(); len(rs) != 1 || rs[0].Subject != "[FRD a/1] once" {
			t.Errorf("stored = %+v", rs)
		}
	})
	t.Run("enforced rate limit", func(t *testing.T) {
		clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		s := newServer(t, sdptest.WithClock(clock.Now))
		c := newClient(t, s, servicedesk.WithRetry(0, time.Millisecond, time.Millisecond))
		must(t, s.AddFault(sdptest.Fault{Kind: sdptest.RateLimit, PerSecond: 3}))
		var limited int
		for range 5 {
			if _, err := c.Requests.List(ctx, nil); errors.Is(err, servicedesk.ErrRateLimited) {
				limited++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Second)
		if _, err := c.Requests.List(ctx, nil); err != nil {
			t.Errorf("next second: %v", err)
		}
		if limited != 2 || s.FaultCount(sdptest.RateLimit) != 2 {
			t.Errorf("limited %d, counted %d; want 2", limited, s.FaultCount(sdptest.RateLimit))
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
