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
// text at the very end of a description could pose as an id: that is why
// the default policy ([IDIfPresent]) lets only a verified footer reference
// choose the vuln; set [IDIgnored] for such setups, or [IDRequired] for the
// recommended one.
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
// Every ticket's description ends with a footer reference to its vuln
// (mapping.ParseReference). Anyone who can write a description can write a
// reference, so the handler trusts only a keyed one: the exporter that
// creates the tickets and the webhook must build their *mapping.Mapper
// with the same mapping.WithReferenceKey key, and the handler checks each
// footer with [StatusMap].VerifyReference. A footer that does not verify
// (forged, under another key, or written before the key) applies nothing
// ("unverified_reference"). Per [Config].IDPolicy:
//
//   - [IDIfPresent] (default): the verified footer finds the vuln; an "id",
//     when present, must be the ticket linked to it. The seed's payload
//     works unchanged once the references are keyed.
//   - [IDRequired]: the "id" after "desc" finds the vuln; a footer, when
//     present, must verify and name the same vuln.
//   - [IDIgnored]: the verified footer alone decides.
//
// NewHandler refuses a StatusMap whose references are unkeyed unless the
// policy is IDRequired or [Config].AllowUnkeyedReferences accepts the risk
// that any SDP user who can edit a request chooses the vuln it changes. A
// copied or foreign request is unknown and ignored; when id and footer
// disagree, nothing is applied.
//
// # Answers
//
// Every answer is small JSON. 200 for anything SDP must not retry:
// {"result":"updated",…}; {"result":"unchanged","reason":…} when the vuln
// already has the status, when another delivery of the same change is
// being applied, or for the echo of the status last pushed to the ticket
// (within [Config].EchoWindow, consumed once); {"result":"ignored",
// "reason":…} for an Ignore mapping, an unmapped status, an unknown ticket,
// a missing or unverified reference or a disagreement. 400 for an
// unreadable status or a
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
// delivery (within [Config].EchoWindow of it, until a delivery with another
// status arrives) are duplicates too, while the same status set again by
// a technician after a change in between is applied. A change to another
// status than the one last pushed clears a pending echo: if the echo was
// lost, a technician's later change back to the pushed status applies.
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
