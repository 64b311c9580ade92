// Package faraday holds the Faraday side of the integration: vulnerability,
// severity and status types, the issue-tracker column, user tokens and the
// token store, permissions, the vuln ↔ ticket link store, a small client for
// Faraday's REST API v3 and a reader for Faraday's CSV export.
//
// The package never imports the ServiceDesk client; package mapping is the
// only place where both sides meet.
//
// # Values
//
// Severity and Status parse every spelling Faraday reads (the API's short
// forms "med" and "info", the legacy status "opened") and marshal as the
// API writes them. Vuln is the v3 JSON of both vulnerability classes; Time
// is an API date ("…+00:00"). IssueTracker is the vuln's issuetracker
// column: this package owns its ServiceDesk entry and keeps other trackers'
// entries verbatim.
//
// # Tokens
//
// A user token is 256 random bits shown once (NewTokenSecret, IssueToken);
// a TokenStore keeps its SHA-256 and finds it through an index on the hash,
// confirmed with a constant-time comparison. ValidateToken says whether a
// presented token is valid for a scope at an instant, and which rule failed
// (ErrTokenUnknown, ErrTokenRevoked, ErrTokenExpired, ErrTokenScope).
// UserToken holds no secret, so it is safe to print and to marshal.
//
// # Links
//
// A Link is the ServiceDesk entry of a vuln (pending intent or linked
// ticket, what was pushed, what came back) under a revision number. Every
// write goes through LinkStore.CompareAndSet (or UpdateLink, which retries
// it), so the webhook and the outgoing engine, in one process or several,
// apply each change once.
//
// # File-backed stores
//
// FileTokenStore and FileLinkStore keep a JSON file that several processes
// may share: writes take an advisory flock(2) on a ".lock" file beside it
// and replace the file atomically (temp file, fsync, rename, fsync of the
// directory); reads take no lock and notice another process's write at
// their next call. They need flock(2) (Linux, the BSDs, macOS); elsewhere
// their constructors return ErrFileStoreUnsupported. Symbolic links in a
// store's path are resolved when it is opened; a store file writable by
// group or others is refused, and rewrites keep the file's mode.
//
// # REST client
//
// Client talks to a Faraday server's REST API v3 (NewClient with the server
// root; the client adds "/_api/v3/"). Its services follow the API:
// c.Vulns.List, All (an iterator over pages), Filter (the JSON filter
// language, Filter and FilterQuery), Get, UpdateStatus and BulkUpdateStatus;
// c.Workspaces.List and Get. Every call takes a context first. Credentials
// come from options, WithToken (the API token) or WithBasicAuth, and never
// appear in errors or logs. Attempts are bounded by WithTimeout, retried on
// network errors, 429 and 5xx answers for reads and idempotent writes
// (WithRetry, honouring Retry-After), and wait on a limiter (WithRateLimit
// or WithLimiter) each time. A failed call is an *Error that matches the
// sentinel of its status with errors.Is (ErrNotFound, ErrUnauthorized,
// ErrReadOnlyWorkspace, …); an unusable 2xx answer matches
// ErrUnexpectedResponse and a body beyond the cap ErrBodyTooLarge.
//
// # CSV export
//
// ExportReader reads the CSV file Faraday's "export CSV" writes
// (NewExportReader, then Next or All). Each record is an ExportRecord: the
// Vuln built from the row (WithExportWorkspace supplies the workspace the
// file does not name), with its host and service. Adjacent rows of one vuln
// are merged and the columns that disagreed are reported; a malformed row is
// a *RowError naming its line and column (matching ErrInvalidExport) and
// reading goes on; only I/O errors and a bad header stop the reader. Memory
// grows with the number of distinct ids, not with the file, and Stats
// counts rows, records and merges.
package faraday
