package servicedesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

func TestSilentWithoutLogger(t *testing.T) {
	t.Parallel()
	c, err := NewClient("https://sdp.test", WithAuthToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	// retryablehttp logs every request (query included) unless its Logger
	// is nil; the client never hands it one, even with WithLogger.
	if c.retry.Logger != nil || c.logger != nil {
		t.Fatalf("retry logger %v, client logger %v: want both nil", c.retry.Logger, c.logger)
	}
	var buf bytes.Buffer
	c2, err := NewClient("https://sdp.test", WithAuthToken("t"), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if c2.retry.Logger != nil {
		t.Fatalf("retry logger %v: the client must log itself, sanitized", c2.retry.Logger)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := &Client{maxRA: 3 * time.Second}
	now := time.Now()
	cases := []struct {
		name       string
		status     int // 0: a transport error, no response
		retryAfter string
		lo, hi     time.Duration
	}{
		{"429 seconds", 429, "2", 2 * time.Second, 2 * time.Second},
		{"503 capped", 503, "3600", 3 * time.Second, 3 * time.Second},
		{"429 HTTP date capped", 429, now.Add(time.Hour).UTC().Format(http.TimeFormat), 3 * time.Second, 3 * time.Second},
		{"429 garbage falls back", 429, "soon", 50 * time.Millisecond, 100 * time.Millisecond},
		{"502 ignores Retry-After", 502, "2", 50 * time.Millisecond, 100 * time.Millisecond},
		{"transport error", 0, "", 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range cases {
		var resp *http.Response
		if tc.status != 0 {
			resp = &http.Response{StatusCode: tc.status, Header: http.Header{"Retry-After": {tc.retryAfter}}, Body: http.NoBody}
		}
		for range 20 {
			d := c.backoff(100*time.Millisecond, time.Second, 0, resp)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("%s: backoff %v outside [%v, %v]", tc.name, d, tc.lo, tc.hi)
			}
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	}
	// Exponential growth, capped at max, with jitter.
	seen := map[time.Duration]bool{}
	for range 50 {
		d := c.backoff(100*time.Millisecond, time.Second, 3, nil)
		if d < 400*time.Millisecond || d > 800*time.Millisecond {
			t.Fatalf("attempt 3: backoff %v outside [400ms, 800ms]", d)
		}
		seen[d] = true
		if d := c.backoff(100*time.Millisecond, time.Second, 30, nil); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("attempt 30: backoff %v outside [500ms, 1s]", d)
		}
	}
	if len(seen) < 2 {
		t.Fatal("backoff has no jitter")
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	t.Parallel()
	var id ID
	if err := id.UnmarshalJSON([]byte(`123640000000240013`)); err != nil || id != "123640000000240013" {
		t.Fatalf("ID from a number = %q, %v: want the exact digits", id, err)
	}
	var d DateTime
	if err := d.UnmarshalJSON([]byte(`{"value":1660050396190,"display_value":"x"}`)); err != nil || d.Millis != 1660050396190 {
		t.Fatalf("DateTime from a number = %+v, %v", d, err)
	}
	if err := d.UnmarshalJSON([]byte(`{"value":"soon"}`)); err == nil {
		t.Fatal("DateTime with a non-numeric value: want an error")
	}
	var m Message
	if err := m.UnmarshalJSON([]byte(`{"status_code":"4012","message":{"display_message":"Fill subject"},"fields":["subject",{"name":"udf_fields.x"}]}`)); err != nil {
		t.Fatal(err)
	}
	if m.StatusCode != 4012 || m.Message != "Fill subject" || len(m.Fields) != 2 || m.Fields[1] != "udf_fields.x" {
		t.Fatalf("message = %+v", m)
	}
	var r Request
	if err := json.Unmarshal([]byte(`{"requester":{"is_vipuser":true},"technician":{"is_vip_user":true},"created_by":{"is_vip_user":false},"time_elapsed":"90000"}`), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Requester.IsVIPUser || !r.Technician.IsVIPUser || r.CreatedBy.IsVIPUser || r.TimeElapsed.Duration() != 90*time.Second {
		t.Fatalf("VIP flags %v %v %v, time_elapsed %v", r.Requester.IsVIPUser, r.Technician.IsVIPUser, r.CreatedBy.IsVIPUser, r.TimeElapsed)
	}
	e := decodeError(400, []byte(`{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4003,"message":"closure rule"}]}}`))
	if !errors.Is(e, ErrClosureRule) || errors.Is(e, ErrMandatoryField) {
		t.Fatalf("error %v: want ErrClosureRule only", e)
	}
}
