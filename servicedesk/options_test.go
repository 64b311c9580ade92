package servicedesk_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"golang.org/x/time/rate"
)

func TestNewClientRejectsBadValues(t *testing.T) {
	t.Parallel()
	tok := servicedesk.WithAuthToken(testToken)
	oauth := servicedesk.WithAuthenticator(&fakeOAuth{token: "a"})
	cases := []struct {
		name    string
		base    string
		opts    []servicedesk.Option
		wantErr string
	}{
		{"empty URL", "", []servicedesk.Option{tok}, "empty base URL"},
		{"relative URL", "sdp.example.com/api", []servicedesk.Option{tok}, "is not absolute"},
		{"path only", "/api/v3", []servicedesk.Option{tok}, "is not absolute"},
		{"scheme given twice", "https://https://sdp.example.com", []servicedesk.Option{tok}, "empty path segment"},
		{"bad scheme", "ftp://sdp.example.com", []servicedesk.Option{tok}, `scheme "ftp"`},
		{"unparsable", "http://[::1", []servicedesk.Option{tok}, "does not parse"},
		{"user info", "https://admin:hunter2@sdp.example.com", []servicedesk.Option{tok}, "user info"},
		{"query", "https://sdp.example.com/?x=1", []servicedesk.Option{tok}, "query or fragment"},
		{"dot segment", "https://sdp.example.com/a/../b", []servicedesk.Option{tok}, "dot segment"},
		{"no credentials", "https://sdp.example.com", nil, "no credentials"},
		{"nil option", "https://sdp.example.com", []servicedesk.Option{tok, nil}, "option 1 is nil"},
		{"empty token", "https://sdp.example.com", []servicedesk.Option{servicedesk.WithAuthToken("")}, "empty authtoken"},
		{"token with newline", "https://sdp.example.com", []servicedesk.Option{servicedesk.WithAuthToken("abc\ndef")}, "control character"},
		{"credentials twice", "https://sdp.example.com", []servicedesk.Option{tok, oauth}, "credentials given twice"},
		{"nil authenticator", "https://sdp.example.com", []servicedesk.Option{servicedesk.WithAuthenticator(nil)}, "nil Authenticator"},
		{"nil HTTP client", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithHTTPClient(nil)}, "nil *http.Client"},
		{"negative rate", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRateLimit(-1, 1)}, "negative or NaN rate"},
		{"NaN rate", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRateLimit(rate.Limit(math.NaN()), 1)}, "negative or NaN rate"},
		{"zero rate", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRateLimit(0, 1)}, "rate limit 0"},
		{"zero burst", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRateLimit(5, 0)}, "burst 0"},
		{"negative retries", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRetry(-1, 0, 0)}, "negative retry count"},
		{"too many retries", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRetry(21, 0, 0)}, "above the limit"},
		{"negative wait", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRetry(1, -time.Second, 0)}, "negative retry wait"},
		{"max below min", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithRetry(1, time.Second, time.Millisecond)}, "below min wait"},
		{"negative Retry-After cap", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithMaxRetryAfter(-1)}, "negative Retry-After cap"},
		{"negative timeout", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithTimeout(-time.Second)}, "negative timeout"},
		{"nil logger", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithLogger(nil)}, "nil *slog.Logger"},
		{"empty user agent", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithUserAgent("")}, "empty User-Agent"},
		{"user agent with newline", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithUserAgent("a\r\nX: y")}, "control character"},
		{"zero body cap", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithMaxBodySize(0)}, "max body size 0"},
		{"non-numeric PORTALID", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithPortalID("itdesk")}, "invalid PORTALID"},
		{"empty PORTALID", "https://sdp.example.com", []servicedesk.Option{tok, servicedesk.WithPortalID("")}, "invalid PORTALID"},
		{"empty cloud portal", "https://sdpondemand.manageengine.com", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("")}, "empty cloud portal"},
		{"cloud portal with slash", "https://sdpondemand.manageengine.com", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("it/desk")}, "invalid cloud portal"},
		{"cloud portal dot-dot", "https://sdpondemand.manageengine.com", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("..")}, "invalid cloud portal"},
		{"cloud with authtoken", "https://sdpondemand.manageengine.com", []servicedesk.Option{tok, servicedesk.WithCloudPortal("itdesk")}, "does not take an authtoken"},
		{"cloud with PORTALID", "https://sdpondemand.manageengine.com", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("itdesk"), servicedesk.WithPortalID("1")}, "PORTALID is an on-premises header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := servicedesk.NewClient(tc.base, tc.opts...)
			if err == nil {
				t.Fatalf("NewClient succeeded (%v), want an error containing %q", c.BaseURL(), tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "servicedesk: ") {
				t.Fatalf("error %q, want one starting with \"servicedesk: \" and containing %q", err, tc.wantErr)
			}
			for _, secret := range []string{testToken, "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestNewClientBaseURLs(t *testing.T) {
	t.Parallel()
	tok := servicedesk.WithAuthToken(testToken)
	oauth := servicedesk.WithAuthenticator(&fakeOAuth{token: "a"})
	for _, tc := range []struct {
		base string
		opts []servicedesk.Option
		want string
	}{
		{"https://sdp.example.com", []servicedesk.Option{tok}, "https://sdp.example.com/api/v3/"},
		{"http://sdp.example.com:8080/", []servicedesk.Option{tok}, "http://sdp.example.com:8080/api/v3/"},
		{"https://sdp.example.com/api/v3", []servicedesk.Option{tok}, "https://sdp.example.com/api/v3/"},
		{"https://proxy.example.com/sdp/", []servicedesk.Option{tok}, "https://proxy.example.com/sdp/api/v3/"},
		{"https://sdpondemand.manageengine.com", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("itdesk")}, "https://sdpondemand.manageengine.com/app/itdesk/api/v3/"},
		{"https://helpdesk.example.com/app/itdesk/api/v3/", []servicedesk.Option{oauth, servicedesk.WithCloudPortal("itdesk")}, "https://helpdesk.example.com/app/itdesk/api/v3/"},
	} {
		c, err := servicedesk.NewClient(tc.base, tc.opts...)
		if err != nil {
			t.Fatalf("NewClient(%q): %v", tc.base, err)
		}
		if c.BaseURL() != tc.want {
			t.Errorf("NewClient(%q).BaseURL() = %q, want %q", tc.base, c.BaseURL(), tc.want)
		}
	}
}

func TestMethodsRejectBadArguments(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t) // any call reaching the mock fails the test
	ctx := context.Background()
	long := strings.Repeat("é", servicedesk.MaxSubjectLength+1)
	crit := func(cs ...servicedesk.Criterion) *servicedesk.ListOptions {
		return &servicedesk.ListOptions{SearchCriteria: cs}
	}
	cases := []struct {
		name    string
		call    func() error
		wantErr string
	}{
		{"Get empty id", func() error { _, err := c.Requests.Get(ctx, ""); return err }, `invalid request id ""`},
		{"Get path id", func() error { _, err := c.Requests.Get(ctx, "1/../2"); return err }, `invalid request id "1/../2"`},
		{"Get query id", func() error { _, err := c.Requests.Get(ctx, "1?x=2"); return err }, "invalid request id"},
		{"Update bad id", func() error {
			_, err := c.Requests.Update(ctx, "abc", &servicedesk.RequestInput{Subject: "s"})
			return err
		}, `invalid request id "abc"`},
		{"Update nil input", func() error { _, err := c.Requests.Update(ctx, "1", nil); return err }, "nil *RequestInput"},
		{"Create nil input", func() error { _, err := c.Requests.Create(ctx, nil); return err }, "nil *RequestInput"},
		{"Create empty subject", func() error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "  "})
			return err
		}, "request.subject is empty"},
		{"Create long subject", func() error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: long})
			return err
		}, "251 characters"},
		{"Create subject line break", func() error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "a\nb"})
			return err
		}, "line break"},
		{"Create invalid UTF-8", func() error {
			_, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "a\xffb"})
			return err
		}, "not valid UTF-8"},
		{"Close bad id", func() error { return c.Requests.Close(ctx, "-1", nil) }, `invalid request id "-1"`},
		{"AddNote bad id", func() error {
			_, err := c.Requests.AddNote(ctx, "x", &servicedesk.NoteInput{Description: "d"})
			return err
		}, "invalid request id"},
		{"AddNote nil", func() error { _, err := c.Requests.AddNote(ctx, "1", nil); return err }, "nil *NoteInput"},
		{"AddNote empty", func() error { _, err := c.Requests.AddNote(ctx, "1", &servicedesk.NoteInput{}); return err }, "note.description is empty"},
		{"ListNotes bad id", func() error { _, err := c.Requests.ListNotes(ctx, "", nil); return err }, "invalid request id"},
		{"nil context", func() error {
			var nilCtx context.Context
			_, err := c.Requests.Get(nilCtx, "1") //nolint:staticcheck // testing the nil check
			return err
		}, "nil context"},
	}
	listCases := []struct {
		name    string
		opts    *servicedesk.ListOptions
		wantErr string
	}{
		{"row count too big", &servicedesk.ListOptions{RowCount: 101}, "list_info.row_count 101"},
		{"row count negative", &servicedesk.ListOptions{RowCount: -1}, "list_info.row_count -1"},
		{"start index negative", &servicedesk.ListOptions{StartIndex: -5}, "list_info.start_index -5"},
		{"bad sort order", &servicedesk.ListOptions{SortField: "id", SortOrder: "up"}, `list_info.sort_order "up"`},
		{"sort order without field", &servicedesk.ListOptions{SortOrder: servicedesk.Ascending}, "without sort_field"},
		{"empty search field", &servicedesk.ListOptions{SearchFields: map[string]string{" ": "x"}}, "empty field name"},
		{"empty fields_required", &servicedesk.ListOptions{FieldsRequired: []string{"id", ""}}, "fields_required[1]"},
		{"criterion without field", crit(servicedesk.Criterion{Condition: servicedesk.Is, Value: "x"}), "search_criteria[0].field is empty"},
		{"unknown condition", crit(servicedesk.Criterion{Field: "subject", Condition: "like", Value: "x"}), `search_criteria[0].condition "like"`},
		{"value and values", crit(servicedesk.Criterion{Field: "f", Condition: servicedesk.Is, Value: "x", Values: []string{"y"}}), "both value and values"},
		{"no value", crit(servicedesk.Criterion{Field: "f", Condition: servicedesk.Is}), "neither value nor values"},
		{"empty values", crit(servicedesk.Criterion{Field: "f", Condition: servicedesk.Between, Values: []string{}}), "neither value nor values"},
		{"missing operator", crit(
			servicedesk.Criterion{Field: "f", Condition: servicedesk.Is, Value: "x"},
			servicedesk.Criterion{Field: "g", Condition: servicedesk.Is, Value: "y"}), "search_criteria[1].logical_operator is empty"},
		{"bad operator", crit(servicedesk.Criterion{Field: "f", Condition: servicedesk.Is, Value: "x", LogicalOperator: "xor"}), `logical_operator "xor"`},
		{"bad child", crit(servicedesk.Criterion{Field: "f", Condition: servicedesk.Is, Value: "x",
			Children: []servicedesk.Criterion{{Field: "", Condition: servicedesk.Is, Value: "y"}}}), "search_criteria[0].children[0].field is empty"},
	}
	for _, lc := range listCases {
		cases = append(cases, struct {
			name    string
			call    func() error
			wantErr string
		}{"List " + lc.name, func() error { _, err := c.Requests.List(ctx, lc.opts); return err }, lc.wantErr})
		cases = append(cases, struct {
			name    string
			call    func() error
			wantErr string
		}{"ListNotes " + lc.name, func() error { _, err := c.Requests.ListNotes(ctx, "1", lc.opts); return err }, lc.wantErr})
	}
	for _, tc := range cases {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	if n := mock.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d calls reached the server; invalid arguments must be refused before any I/O", n)
	}
}
