package servicedesk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeZohoToken feeds arbitrary statuses and bodies to the token
// answer decoder: it never panics; what it accepts is a usable header
// value with a sane lifetime from a 2xx answer without an error member;
// and its errors never quote the body (which can hold a token).
func FuzzDecodeZohoToken(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"123456789","refresh_token":"987654321","api_domain":"https://www.zohoapis.com","token_type":"Bearer","expires_in":3600}`))
	f.Add(200, []byte(`{"error":"invalid_code"}`))
	f.Add(400, []byte(`{"error":"invalid_client"}`))
	f.Add(200, []byte(`{"access_token":"a","expires_in":"3600"}`))
	f.Add(200, []byte(`{"access_token":"a","expires_in":3600000,"expires_in_sec":3600}`))
	f.Add(200, []byte(`{"access_token":"a b"}`))
	f.Add(200, []byte(`{"access_token":null,"error":null}`))
	f.Add(500, []byte(`<html>`))
	f.Add(200, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tok, err := decodeZohoToken(status, body)
		if err != nil {
			if tok != nil {
				t.Fatal("token and error both returned")
			}
			msg := err.Error()
			var ze *ZohoError
			if errors.As(err, &ze) && ze.Code != "" && ze.Code != "(unreadable)" && strings.ContainsAny(ze.Code, " \"\n") {
				t.Fatalf("unsafe Zoho code %q", ze.Code)
			}
			// Any access_token value of the body must not reach the message.
			var w struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(body, &w) == nil && len(w.AccessToken) >= 4 && strings.Contains(msg, w.AccessToken) {
				t.Fatalf("error %q quotes the access token", msg)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted HTTP %d", status)
		}
		if tok.accessToken == "" || strings.ContainsAny(tok.accessToken, " \t\r\n") {
			t.Fatalf("accepted access token %q", tok.accessToken)
		}
		if tok.expiresIn <= 0 || tok.expiresIn > 24*time.Hour {
			t.Fatalf("accepted lifetime %v", tok.expiresIn)
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal(body, &probe) == nil {
			if e, ok := probe["error"]; ok && len(e) > 0 && string(e) != "null" && string(e) != `""` && string(e) != "false" {
				t.Fatalf("accepted a body with an error member: %s", body)
			}
		}
	})
}

// FuzzDecodeTemplate decodes arbitrary template bodies (layouts, fields
// with unknown keys kept in Extra): no panic, and a decoded template
// encodes and decodes back to the same fields.
func FuzzDecodeTemplate(f *testing.F) {
	f.Add([]byte(`{"id":"301","name":"T","layouts":[{"id":"1","sections":[{"id":"2","name":"S","fields":[{"name":"subject","template_id":"301","default_value":[{"value":"x"}],"scopings":[{"scope":"requester","access":"editable"}],"mandatory":true}]}]}]}`))
	f.Add([]byte(`{"id":301,"inactive":true,"request":{"status":{"name":"Open"}},"layouts":null}`))
	f.Add([]byte(`{"layouts":[{"sections":[{"fields":[{"name":"a","x":{"y":[1,2]}}]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var tp RequestTemplate
		if err := json.Unmarshal(body, &tp); err != nil {
			return
		}
		b, err := json.Marshal(&tp)
		if err != nil {
			t.Fatalf("decoded template does not encode: %v", err)
		}
		var back RequestTemplate
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("own encoding %s does not decode: %v", b, err)
		}
		if strings.Join(back.Fields(), "\x00") != strings.Join(tp.Fields(), "\x00") {
			t.Fatalf("fields changed in a round trip: %q vs %q", tp.Fields(), back.Fields())
		}
	})
}

// FuzzDecodeLookupList decodes arbitrary bodies as a lookup list answer
// (the run-time keyed decoder) and as metainfo: no panic, and every row
// decoded is non-nil or the body had a null there.
func FuzzDecodeLookupList(f *testing.F) {
	f.Add([]byte(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":true,"row_count":"2"},"users":[{"id":"1","name":"a","login_name":"a","is_vip_user":true},{"id":2}]}`))
	f.Add([]byte(`{"users":null,"list_info":null}`))
	f.Add([]byte(`{"users":{"id":"1"}}`))
	f.Add([]byte(`{"metainfo":{"fields":{"udf_fields":{"fields":{"udf_sline_1":{"id":1,"display_name":"x","type":"lookup"}}}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a := &keyedAnswer[User]{key: "users", list: true}
		if err := json.Unmarshal(body, a); err == nil {
			_ = a.head().ResponseStatus.failed()
		}
		var m metainfoAnswer
		if json.Unmarshal(body, &m) == nil && m.Metainfo != nil {
			mi, err := decodeMetainfo(m.Metainfo.Fields)
			if err == nil {
				for k, u := range mi.UDFs {
					if u.Key != k {
						t.Fatalf("UDF %q has key %q", k, u.Key)
					}
				}
			}
		}
	})
}
