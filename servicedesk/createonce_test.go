package servicedesk_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vulndesk/mesd/servicedesk"
)

func fakeClient(t *testing.T, srv *httptest.Server) *servicedesk.Client {
	t.Helper()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken(testToken), servicedesk.WithHTTPClient(srv.Client()),
		servicedesk.WithRetry(3, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateOnceCreatesThenFinds(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	ctx := context.Background()
	in := &servicedesk.RequestInput{Subject: "[FRD acme/12] SQL injection"}
	r1, created, err := c.Requests.CreateOnce(ctx, "[FRD acme/12]", in)
	if err != nil || !created || r1.Subject != in.Subject {
		t.Fatalf("first CreateOnce = %+v, %v, %v", r1, created, err)
	}
	r2, created, err := c.Requests.CreateOnce(ctx, "[FRD acme/12]", in)
	if err != nil || created || r2.ID != r1.ID {
		t.Fatalf("second CreateOnce = %+v, %v, %v; want request %s, not created", r2, created, err, r1.ID)
	}
	if posts, _, last := f.counts(); posts != 1 || f.withTag("[FRD acme/12]") != 1 || last != "[FRD acme/12]" {
		t.Fatalf("posts %d, requests with the tag %d, searched %q", posts, f.withTag("[FRD acme/12]"), last)
	}
}

func TestCreateOnceKeepsOnlyExactTags(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	ctx := context.Background()
	f.add("[FRD acme/123] XSS", 1)
	// 120 requests the loose server search matches (case differs): the
	// search walks two pages and keeps none of them.
	for range 120 {
		f.add("[frd ACME/12] old", 2)
	}
	r, created, err := c.Requests.CreateOnce(ctx, "[FRD acme/12]", &servicedesk.RequestInput{Subject: "[FRD acme/12] SQLi"})
	if err != nil || !created {
		t.Fatalf("CreateOnce = %+v, %v, %v: [FRD acme/12] must not match [FRD acme/123] nor [frd ACME/12]", r, created, err)
	}
	if _, searches, _ := f.counts(); searches != 2 {
		t.Errorf("%d search pages, want 2", searches)
	}
	r, created, err = c.Requests.CreateOnce(ctx, "[FRD acme/123]", &servicedesk.RequestInput{Subject: "[FRD acme/123] x"})
	if err != nil || created || r.Subject != "[FRD acme/123] XSS" {
		t.Fatalf("CreateOnce(acme/123) = %+v, %v, %v", r, created, err)
	}
	if posts, _, _ := f.counts(); posts != 1 {
		t.Fatalf("posts = %d, want 1", posts)
	}
}

func TestCreateOnceReportsDuplicatesAndKeepsTheOldest(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	a := f.add("[FRD acme/7] a", 3000)
	b := f.add("[FRD acme/7] b", 1000) // oldest
	d := f.add("[FRD acme/7] c", 2000)
	e := f.add("[FRD acme/7] d", 2000) // same time as d, higher id
	r, created, err := c.Requests.CreateOnce(context.Background(), "[FRD acme/7]", &servicedesk.RequestInput{Subject: "[FRD acme/7] new"})
	if created || r == nil || string(r.ID) != b {
		t.Fatalf("CreateOnce = %+v, %v: want the oldest, %s, not created", r, created, b)
	}
	if !errors.Is(err, servicedesk.ErrDuplicate) {
		t.Fatalf("error %v, want ErrDuplicate", err)
	}
	var de *servicedesk.DuplicateError
	if !errors.As(err, &de) || string(de.Kept) != b || !reflect.DeepEqual(de.Duplicates, []servicedesk.ID{servicedesk.ID(d), servicedesk.ID(e), servicedesk.ID(a)}) {
		t.Fatalf("DuplicateError = %+v", de)
	}
	if posts, _, _ := f.counts(); !strings.Contains(err.Error(), "4 requests carry the tag") || posts != 0 {
		t.Fatalf("error %q, posts %d", err, posts)
	}
}

func TestCreateOnceInputChecks(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	ctx := context.Background()
	for _, tc := range []struct {
		tag  string
		in   *servicedesk.RequestInput
		want string
	}{
		{"[FRD acme/1]", &servicedesk.RequestInput{Subject: "no tag here"}, "does not start with the tag"},
		{"[FRD acme/1]", &servicedesk.RequestInput{Subject: "re: [FRD acme/1] x"}, "does not start with the tag"},
		{"", &servicedesk.RequestInput{Subject: "x"}, "empty idempotency tag"},
		{"[a\nb]", &servicedesk.RequestInput{Subject: "x"}, "line break"},
		{"[FRD acme/1]", nil, "nil *RequestInput"},
		{"[FRD acme/1]", &servicedesk.RequestInput{Subject: ""}, "subject is empty"},
	} {
		_, _, err := c.Requests.CreateOnce(ctx, tc.tag, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CreateOnce(%q): %v, want %q", tc.tag, err, tc.want)
		}
	}
	if posts, searches, _ := f.counts(); posts != 0 || searches != 0 {
		t.Fatalf("bad input reached the server: %d posts, %d searches", posts, searches)
	}
}

// TestCreateOnceAfterLostAnswerMakesNoDuplicate is the proof the issue
// asks for: the server commits a create and drops the connection, so the
// client never learns the request exists; a new Client (as after a crash)
// runs CreateOnce again, and exactly one request carries the key.
func TestCreateOnceAfterLostAnswerMakesNoDuplicate(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	const tag = "[FRD acme/42]"
	in := &servicedesk.RequestInput{Subject: tag + " Outdated OpenSSL", Description: "<p>found</p>"}
	ctx := context.Background()

	f.dropNext = true
	first := fakeClient(t, srv)
	r, created, err := first.Requests.CreateOnce(ctx, tag, in)
	if err == nil || r != nil || created {
		t.Fatalf("first CreateOnce = %+v, %v, %v: want the lost answer's error", r, created, err)
	}
	if posts, _, _ := f.counts(); posts != 1 || f.withTag(tag) != 1 {
		t.Fatalf("after the lost answer: %d posts, %d requests with the tag; want the create committed once", posts, f.withTag(tag))
	}

	second := fakeClient(t, srv) // a new process
	r, created, err = second.Requests.CreateOnce(ctx, tag, in)
	if err != nil || created || r == nil || r.Subject != in.Subject {
		t.Fatalf("CreateOnce after the crash = %+v, %v, %v; want the committed request, not created", r, created, err)
	}
	posts, _, _ := f.counts()
	if n := f.withTag(tag); n != 1 || posts != 1 {
		t.Fatalf("%d requests carry %s after %d posts: want exactly 1", n, tag, posts)
	}
}

func TestCreateOnceSerialisesOneTagWithinAClient(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	const tag = "[FRD acme/9]"
	var wg sync.WaitGroup
	created := make([]bool, 8)
	ids := make([]servicedesk.ID, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Other tags proceed in parallel.
			other := "[FRD other/" + strconv.Itoa(i) + "]"
			if _, _, err := c.Requests.CreateOnce(context.Background(), other, &servicedesk.RequestInput{Subject: other}); err != nil {
				t.Error(err)
			}
			r, cr, err := c.Requests.CreateOnce(context.Background(), tag, &servicedesk.RequestInput{Subject: tag + " x"})
			if err != nil {
				t.Error(err)
				return
			}
			created[i], ids[i] = cr, r.ID
		}()
	}
	wg.Wait()
	n := 0
	for i := range 8 {
		if created[i] {
			n++
		}
		if ids[i] != ids[0] {
			t.Errorf("caller %d got request %s, caller 0 got %s", i, ids[i], ids[0])
		}
	}
	if n != 1 || f.withTag(tag) != 1 {
		t.Fatalf("%d callers created, %d requests carry the tag; want 1 and 1", n, f.withTag(tag))
	}
}

func TestCreateOnceWaitHonoursContext(t *testing.T) {
	t.Parallel()
	_, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Requests.CreateOnce(ctx, "[FRD a/1]", &servicedesk.RequestInput{Subject: "[FRD a/1]"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestCreateOnceIgnoresForeignTagInSubjectText: a request whose subject
// quotes another vuln's tag in its (scanner-controlled) text is not that
// vuln's ticket: only the tag that opens a subject counts.
func TestCreateOnceIgnoresForeignTagInSubjectText(t *testing.T) {
	t.Parallel()
	f, srv := newFakeSDP(t)
	c := fakeClient(t, srv)
	ctx := context.Background()
	f.add("[FRD acme/5] Open redirect, duplicate of [FRD acme/12]", 1)
	own := f.add("  [FRD acme/7] leading spaces kept by SDP", 2)
	r, created, err := c.Requests.CreateOnce(ctx, "[FRD acme/12]", &servicedesk.RequestInput{Subject: "[FRD acme/12] SQLi"})
	if err != nil || !created || r.Subject != "[FRD acme/12] SQLi" {
		t.Fatalf("CreateOnce(acme/12) = %+v, created=%v, err=%v: took acme/5's ticket", r, created, err)
	}
	found, err := c.Requests.FindByTag(ctx, "[FRD acme/12]")
	if err != nil || len(found) != 1 || found[0].Subject != "[FRD acme/12] SQLi" {
		t.Fatalf("FindByTag(acme/12) = %v, %v; want only the new request", found, err)
	}
	r, created, err = c.Requests.CreateOnce(ctx, "[FRD acme/7]", &servicedesk.RequestInput{Subject: "[FRD acme/7] again"})
	if err != nil || created || string(r.ID) != own {
		t.Fatalf("CreateOnce(acme/7) = %+v, %v, %v; want the request %s whose subject starts with spaces", r, created, err, own)
	}
}
