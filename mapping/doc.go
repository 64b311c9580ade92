// Package mapping turns Faraday vulnerabilities into ServiceDesk Plus
// requests and ServiceDesk statuses back into Faraday statuses.
//
// Everything here is a pure function of its arguments; the package does no
// I/O. The instance catalogue a configuration is checked against is passed
// in as a value that the caller fills from the ServiceDesk client.
//
// # Configuration
//
// A Config is read from JSON with ParseConfig or LoadConfig: unknown keys,
// keys given twice and data after the object are errors that name their
// line and column. Validate reports every problem at once as Problems, each
// with its JSON path ("templates[0].fields[2].value"). Check compares a
// Config with a Catalog (priorities, statuses, templates and their fields,
// categories, groups, technicians, users, dropdown options, and the
// mandatory fields learned from 4012 answers) and suggests the closest
// existing name for each unknown one (see Closest). New compiles a valid
// Config into a Mapper; NewChecked also requires Check to pass. The seed's
// three field types are Dropdown, Search and Raw; testdata/config.json is a
// complete sample.
//
// # Requests
//
// Mapper.Request builds the servicedesk.RequestInput of a vuln. The subject
// is plain text on one line, at most 250 runes, and starts with the
// idempotency tag ("[FRD <workspace>/<id>]" by default; the subject format
// must start with {tag}, and HasTag only finds a tag that opens the
// subject, so a tag quoted in a vuln's name is never taken for the
// ticket's own); the tag is never cut, and no tag is a prefix of another
// (see ValidateTagFormat). The
// description is HTML: each piece of vuln text is escaped exactly once and
// its line breaks become <br>; when the whole is larger than the limit, the
// body is cut between characters (never inside an entity or a tag) and the
// footer is kept. The footer links back to the vuln and carries its
// Reference, a checked token that ParseReference finds again in the
// description SDP returns or a webhook delivers, whatever SDP did to the
// HTML around it.
//
// # Reference keys
//
// Anyone who can write a ticket's description can write a reference, so a
// reference proves who wrote it only when it is keyed: build the Mapper
// with New(cfg, WithReferenceKey(key)) and its references carry a 128-bit
// HMAC-SHA256 of their fields that Mapper.VerifyReference checks. Make a
// key once with NewReferenceKey, store it as EncodeReferenceKey's base64
// text, read it with ParseReferenceKey, and give the same key to the
// exporter that writes tickets and to the webhook that reads them back.
// Without a key the check is a CRC-32 that guards against typos only, and
// Mapper.ReferenceKeyed reports false.
//
// # Statuses
//
// Mapper.Outgoing gives the ServiceDesk status pushed for a Faraday status.
// Mapper.Incoming gives, for a ServiceDesk status, one of three results:
// Apply (with a Faraday status), Ignored, or Unmapped; it never guesses.
// Mapper.SeverityOf reverses the priority map where it is unambiguous.
// IsEcho is the loop guard: it recognises the webhook delivery caused by our
// own last push. Mapper.TrackerEntry gives the vuln's issue-tracker entry
// for a created request.
package mapping
