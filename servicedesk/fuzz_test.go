package servicedesk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var envelopeSeeds = []string{
	`{"response_status":{"status_code":2000,"status":"success"},"request":{"id":"71"}}`,
	`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":true,"row_count":10,"start_index":1},"requests":[{"id":"1"}]}`,
	`{"response_status":[{"status_code":"2000","status":"success"}],"list_info":{"has_more_rows":"false","row_count":"10","total_count":"77"}}`,
	`{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4001,"field":"level","type":"failed","message":"Invalid Input"}]}}`,
	`{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4012,"fields":["subject","udf_fields.udf_sline_1"],"type":"failed"}]}}`,
	`{"response_status":{"status_code":4000,"messages":[{"status_code":4002,"message":{"display_message":"no"}}]}}`,
	`{"response_status":null}`,
	`{"response_status":"weird"}`,
	`<html>login</html>`,
	``,
}

// FuzzDecodeEnvelope feeds arbitrary bytes to the envelope decoder: it must
// never panic, and whatever it accepts must be self-consistent.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("decodeEnvelope accepted invalid JSON %q", body)
		}
		failed := env.ResponseStatus.failed()
		for _, s := range env.ResponseStatus {
			if (s.StatusCode >= 4000 || s.Status == "failed") && !failed {
				t.Fatalf("status %+v not reported as failed", s)
			}
		}
		if env.ListInfo != nil && env.ListInfo.RowCount < 0 && !strings.Contains(string(body), "-") {
			t.Fatalf("negative row count from %q", body)
		}
	})
}

// FuzzDecodeError feeds arbitrary bodies and statuses to the error decoder:
// it must never panic, always return an *Error carrying the HTTP status,
// and its message must never hold the raw body beyond SDP's message texts.
func FuzzDecodeError(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add(400, []byte(s))
	}
	f.Add(404, []byte(`{"response_status":{"status_code":4000,"messages":[{"status_code":4007,"message":"Invalid URL"}],"status":"failed"}}`))
	f.Add(429, []byte(`{"response_status":{"status_code":4000,"messages":[{"status_code":"4015"}]}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		if e == nil || e.HTTPStatus != status {
			t.Fatalf("decodeError(%d) = %+v", status, e)
		}
		_ = e.Error()
		if errors.Is(e, ErrNotFound) != (status == 404 || e.hasCode(4007)) {
			t.Fatalf("ErrNotFound match wrong for %d %+v", status, e.Messages)
		}
		if errors.Is(e, ErrAlreadyClosed) && !errors.Is(e, ErrInvalidInput) {
			t.Fatalf("ErrAlreadyClosed without ErrInvalidInput: %+v", e.Messages)
		}
	})
}

// FuzzDecodeRequest decodes arbitrary request bodies into the client's
// types (ids, times, durations, users with either VIP key).
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"id":"71","display_id":102,"created_time":{"value":"1660050395904","display_value":"Aug 9"},"onhold_time":{"value":"64800000"},"time_elapsed":"0","requester":{"id":4,"is_vipuser":true},"technician":{"is_vip_user":true}}`))
	f.Add([]byte(`{"id":123640000000240013,"status":{"id":"2","name":"Open","in_progress":true},"udf_fields":{"udf_date_1":{"value":"1"}}}`))
	f.Add([]byte(`{"created_time":null,"due_by_time":{"value":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r Request
		if err := json.Unmarshal(body, &r); err != nil {
			return
		}
		if r.ID != "" && strings.ContainsAny(string(r.ID), "\"") && !strings.Contains(string(body), `\"`) && !strings.Contains(string(body), `\u0022`) {
			t.Fatalf("id %q has a quote that the body did not escape", r.ID)
		}
		if _, err := json.Marshal(&r); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}
