// Package servicedesk is a typed client for the ManageEngine ServiceDesk Plus
// (SDP) REST API v3, on-premises and cloud.
//
// A Client is made with NewClient and exposes the API areas as services, in
// the manner of google/go-github:
//
//	c, err := servicedesk.NewClient("https://sdp.example.com",
//		servicedesk.WithAuthToken(os.Getenv("SDP_AUTHTOKEN")))
//	req, err := c.Requests.Get(ctx, "123")
//
// # Wire format
//
// SDP v3 takes writes as a form field named input_data holding strict JSON
// and list reads as input_data={"list_info":…} in the query. Answers carry a
// response_status (an object, or an array for bulk calls); ids are strings,
// numbers may arrive as strings, and times are {value, display_value} pairs
// of which the client keeps the millisecond value.
//
// # Errors
//
// Every failure reported by SDP is an *Error carrying the HTTP status, the
// SDP status codes and messages, and the field names SDP blamed. Match it
// with errors.Is against the sentinels (ErrNotFound, ErrUnauthorized, …) or
// with errors.As. No authtoken, header value or input_data ever appears in
// an error string or a log line.
//
// # Retries and rate limits
//
// Reads, updates and deletes are retried on network errors and on 429, 502,
// 503 and 504; a POST is retried only when the server certainly did not act
// on it. Retry-After is honoured up to a cap. A token-bucket limiter sits
// under the retry layer, so every attempt waits its turn.
package servicedesk
