// Package webhook provides the http.Handler that receives ServiceDesk Plus
// status changes and applies them to Faraday vulnerabilities.
//
// ServiceDesk Plus calls it from a custom trigger with the payload
//
//	{"status": "${{request.status}}", "desc": "${{request.description}}", "Authorization": "<token>"}
//
// and the header X-ServiceDesk-Token. SDP substitutes the placeholders raw, so
// the handler reads each field from its position in the template rather than
// trusting a JSON decoder: text injected through the description can never
// choose the status, the request id or the token. The handler never calls the
// ServiceDesk API; it takes what it needs from the host through small
// interfaces.
package webhook
