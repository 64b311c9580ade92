// Package webhook is the http.Handler that takes ServiceDesk Plus status
// changes back into Faraday.
//
// An SDP custom trigger (on edit, Status > Name is modified) POSTs to the
// handler, usually mounted at [Path], with the header
// "X-ServiceDesk-Token: 1" and the seed's payload
//
//	{"status": "${{request.status}}", "desc": "${{request.description}}", "Authorization": "<token>"}
//
// Setups configured exactly so keep working. The recommended extension puts
// the request id after the description:
//
//	{"status": "${{request.status}}", "desc": "${{request.description}}", "id": "${{request.id}}", "Authorization": "<token>"}
//
// Build the handler with [NewHandler] and a [Config]: a faraday.TokenStore,
// a faraday.LinkStore, the incoming status map (a *mapping.Mapper) and a
// [VulnStore] ([MemoryVulnStore], or [ClientVulnStore] over Faraday's REST
// API). The handler never calls the ServiceDesk API.
//
// # Reading the body
//
// SDP pastes placeholder values raw, so a description holding quotes,
// backslashes, line breaks or tabs makes the body invalid JSON, and text
// typed into a description can look like other fields. The handler reads
// each field from its place in the template instead of decoding JSON:
// "status" from its first occurrence, which precedes the description; "id"
// and "Authorization" from their last occurrence, read backwards from the
// end of the body, since the description always sits before them. Text
// injected through the description (x", "status": "Closed, a fake id, a
// fake token) therefore decides nothing. A body whose status cannot be read
// is a 400, never a guess. With the seed's payload, which has no "id",
// text at the very end of a description could pose as an id; set
// [IDIgnored] for such setups (or [IDRequired] for the recommended one).
//
// # Authentication
//
// The token is the body's "Authorization" (a leading "Token " tolerated),
// else the X-ServiceDesk-Token header when it holds a token rather than
// "1". Only service_desk tokens pass by default ([Config].Scopes). Unknown,
// revoked, expired and wrong-scope tokens all get the same 401 body. With
// [Config].Roles set, a valid token whose user's role may not update the
// service_desk unit gets 403.
//
// # Finding the vuln
//
// With an id, the vuln is the one the link store links to that ticket; a
// copied or foreign request is unknown and ignored. Without one, the
// footer reference of the description (mapping.ParseReference) names it.
// When both are there and disagree, nothing is applied.
//
// # Answers
//
// Every answer is small JSON. 200 for anything SDP must not retry:
// {"result":"updated",…}; {"result":"unchanged","reason":…} when the vuln
// already has the status, when another delivery of the same change is
// being applied, or for the echo of the status last pushed to the ticket
// (within [Config].EchoWindow, consumed once); {"result":"ignored",
// "reason":…} for an Ignore mapping, an unmapped status, an unknown ticket,
// a missing reference or a disagreement. 400 for an unreadable status or a
// malformed id; 401; 403; 405 with "Allow: POST"; 413 over
// [Limits].MaxBodyBytes (1 MiB); 429 with Retry-After. When the vuln or
// link store keeps failing after bounded retries ([Config].Retry), the
// answer is 503 and the delivery goes to [Config].DeadLetter, since SDP's
// own retry behaviour is unknown; [Handler.Replay] applies it later.
//
// # Applying once
//
// Each change is claimed with a compare-and-set on the link
// (LastIncoming, with a claim id) before the vuln is set, then committed;
// a failure rolls the claim back. Duplicate and concurrent deliveries of
// one change, in one process or in several sharing a link store, apply it
// once. Consuming an echo is recorded the same way, so copies of the echo
// delivery (within [Config].ClaimTimeout, until a delivery with another
// status arrives) are duplicates too, while the same status set again by
// a technician after a change in between is applied.
//
// # Rate limits
//
// Failed authentications are limited per client address (the connection's
// peer; X-Forwarded-For only from [Config].TrustedProxies) and answered 429
// beyond the limit; a valid token is never held back by it. Authenticated
// deliveries, which all come from SDP's one executor with one token, get a
// generous per-token bound.
//
// # Logging and outcomes
//
// One structured line per request (delivery id, code, result, reason,
// ticket, vuln, statuses, duration); never a token, never the description.
// [Config].OnOutcome receives the same facts as an [Outcome].
package webhook
