package sdptest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is an SDP failure answer: HTTP status and the messages of
// response_status.
type apiError struct {
	status int
	msgs   []apiMsg
}

type apiMsg struct {
	code    int
	field   string
	message string
}

func (e *apiError) body() map[string]any {
	msgs := make([]any, 0, len(e.msgs))
	for _, m := range e.msgs {
		o := map[string]any{"status_code": m.code, "type": "failed"}
		if m.message != "" {
			o["message"] = m.message
		}
		if m.field != "" {
			o["field"] = m.field
		}
		msgs = append(msgs, o)
	}
	return map[string]any{"response_status": map[string]any{"status_code": 4000, "status": "failed", "messages": msgs}}
}

// errInvalid is 4001 "Invalid Input" naming the field, SDP's answer to a
// name or id that does not exist.
func errInvalid(field string) *apiError { return errInvalidField(field, "Invalid Input") }

func errInvalidField(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, msgs: []apiMsg{{code: 4001, field: field, message: msg}}}
}

func errMandatory(fields ...string) *apiError {
	e := &apiError{status: http.StatusBadRequest}
	for _, f := range fields {
		e.msgs = append(e.msgs, apiMsg{code: 4012, field: f, message: "Value for mandatory field is not provided"})
	}
	return e
}

func errTypeMismatch(field string) *apiError {
	return &apiError{status: http.StatusBadRequest, msgs: []apiMsg{{code: 4021, field: field, message: "Data type mismatch"}}}
}

// errExtraKey is the answer to an unknown key in input_data.
func errExtraKey(field string) *apiError {
	return &apiError{status: http.StatusBadRequest, msgs: []apiMsg{{code: 4000, field: field, message: "EXTRA_KEY_FOUND_IN_JSON"}}}
}

func errNotFound() *apiError {
	return &apiError{status: http.StatusNotFound, msgs: []apiMsg{{code: 4007, message: "Invalid URL"}}}
}

func errAuth() *apiError {
	return &apiError{status: http.StatusUnauthorized, msgs: []apiMsg{{code: 4022, message: "Invalid API key received"}}}
}

func errRateLimit() *apiError {
	return &apiError{status: http.StatusTooManyRequests, msgs: []apiMsg{{code: 4015, message: "API rate limit reached"}}}
}

func errInternal() *apiError {
	return &apiError{status: http.StatusInternalServerError, msgs: []apiMsg{{code: 4004, message: "Internal error"}}}
}

func successStatus() map[string]any { return map[string]any{"status_code": 2000, "status": "success"} }

// entity is a single-entity success answer.
func entity(key string, v any) map[string]any {
	return map[string]any{key: v, "response_status": successStatus()}
}

// actionOK is the answer to an action (close, …): a message and no entity.
func actionOK(msg string) map[string]any {
	return map[string]any{"response_status": map[string]any{
		"status_code": 2000, "status": "success",
		"messages": []any{map[string]any{"status_code": 2000, "type": "success", "message": msg}},
	}}
}

// encodeJSON encodes v without HTML escaping, as SDP does for HTML
// descriptions.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Answers are built from maps of JSON-safe values only.
		panic("sdptest: encoding an answer: " + err.Error())
	}
	return buf.Bytes()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b := encodeJSON(v)
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// loginPage is what SDP Cloud serves, with status 200, to a call whose
// Accept header is not the v3 media type.
const loginPage = `<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>ServiceDesk Plus - Sign in</title></head>
<body><form method="post" action="/signin"><input name="LOGIN_ID"><input type="password" name="PASSWORD">
<button type="submit">Sign in</button></form></body></html>
`
