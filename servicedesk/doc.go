// Package servicedesk is a typed client for the ManageEngine ServiceDesk Plus
// (SDP) REST API v3, on-premises and cloud.
//
// A Client is made with [NewClient] and exposes the API areas as services, in
// the manner of google/go-github. Every method takes a context first:
//
//	c, err := servicedesk.NewClient("https://sdp.example.com:8080",
//		servicedesk.WithAuthToken(os.Getenv("SDP_AUTHTOKEN")))
//	req, err := c.Requests.Get(ctx, "123")
//
// Options are validated: an empty or relative base URL, a negative rate, a
// zero burst, a nil HTTP client and the like make NewClient fail with an
// error saying what was wrong. NewClient does no I/O.
//
// # Authentication
//
// On-premises SDP takes a technician API key in the authtoken header
// ([WithAuthToken]), and multi-instance deployments a numeric PORTALID header
// ([WithPortalID]). SDP Cloud addresses a portal under /app/<portal>
// ([WithCloudPortal]) and takes OAuth access tokens. Credentials are added by
// an [Authenticator] on every attempt; one that also implements
// [Reauthenticator] is told once when SDP answers 401 (or 4022), may renew
// its credentials, and the call is then sent once more — never in a loop.
// Every call carries Accept: application/vnd.manageengine.sdp.v3+json
// ([MediaType]) and a User-Agent naming the SDK [Version].
//
// # Wire format
//
// SDP v3 takes writes as a form field named input_data holding strict JSON
// and list reads as input_data={"list_info":…} in the query ([ListOptions],
// [Criterion]). Answers carry a response_status (an object, or an array for
// lists); ids are strings ([ID] also reads numbers); numbers may arrive as
// strings; times and durations are {value, display_value} pairs of which
// the client keeps the millisecond value ([DateTime], [Duration]); message
// texts may be strings or objects. On-premises and cloud differ in a few
// keys (note and request_note, is_vipuser and is_vip_user, display_id only
// on cloud); the client writes its edition's key and reads both. No
// Idempotency-Key header is ever sent: net/http replays a POST that carries
// one on a dead keep-alive connection.
//
// # Errors
//
// Every failure reported by SDP is an [*Error] carrying the HTTP status, the
// SDP status codes and messages, and the fields SDP blamed. Match it with
// errors.Is against the sentinels ([ErrNotFound], [ErrUnauthorized],
// [ErrForbidden], [ErrRateLimited], [ErrMandatoryField], [ErrClosureRule],
// [ErrInvalidInput], [ErrAlreadyClosed], [ErrUnexpectedContent]) or with
// errors.As:
//
//	var se *servicedesk.Error
//	if errors.As(err, &se) && errors.Is(err, servicedesk.ErrMandatoryField) {
//		fmt.Println("fill in", se.Fields())
//	}
//
// SDP may report a failure with HTTP 200; the client reads response_status
// and returns an *Error all the same. A 2xx answer that is not JSON (a login
// page), that does not decode, or that lacks a successful response_status
// (every SDP answer has one) is an *Error matching ErrUnexpectedContent.
// Bodies are read up to a cap ([WithMaxBodySize]); an answer beyond it is
// an *Error that keeps its HTTP status. No authtoken, header value or input_data ever
// appears in an error string or a log line; transport errors are
// *url.Error values whose URL has lost its query.
//
// # Retries and rate limits
//
// Calls are retried through go-retryablehttp. GET, PUT and DELETE are
// retried on network errors and on 429, 502, 503 and 504; a POST only when
// the server certainly did not act on it (429, or a connection that was
// never made), so a create whose answer was lost is not sent twice.
// Retry-After is honoured up to a cap ([WithMaxRetryAfter]); other waits grow
// exponentially with jitter ([WithRetry]). When retries run out the last
// answer becomes the *Error, with the number of attempts. A token-bucket
// limiter ([WithRateLimit]) sits under the retry layer, so every attempt,
// retries included, waits its turn; the wait is bounded by the call's
// context only, and the per-attempt timeout ([WithTimeout]) starts after it. The client is silent unless given a
// *slog.Logger ([WithLogger]).
//
// # Requests
//
// [RequestsService] creates, reads, updates, lists and closes requests and
// adds and lists their notes. [RequestsService.All] is an iterator over
// every page of a list. A close retried after an attempt that may have
// taken effect, and then answered "Request is already closed", has done its
// work and is reported as a success. [Client.RequestURL] gives a request's
// page in the web UI of either edition.
//
// # Idempotent create
//
// A create whose answer is lost (a dropped connection, a crash) may or may
// not have happened. [RequestsService.CreateOnce] makes creates safe to
// repeat: the caller puts a short tag in the subject (for example
// "[FRD acme/123]", ending in a delimiter), and CreateOnce searches for
// subjects containing it, keeps exact matches only, and returns the
// request found or creates one. Several matches return the oldest with a
// [*DuplicateError]. Plain Create remains for callers that know no request
// can exist yet.
//
// # Templates, lookups and users
//
// [TemplatesService] lists incident and service templates and reads one
// template with its layouts, exposed as SDP returns them: how SDP marks a
// field as mandatory is not established, so the client relies on no such
// flag. Mandatory fields are learned from 4012 answers ([MandatoryFields],
// [MandatoryFieldCache]). The lookups (Priorities, Statuses, Urgencies,
// Impacts, Categories with their subcategories and items, Groups, Sites,
// Technicians, Users) are [LookupService] values with List, All and Get;
// [RequestsService.Metainfo] reads the request fields' metadata.
// [UsersService.Find] finds a user by login name, email address or display
// name, and reports a name shared by several users as an
// [*AmbiguousError] listing them, never picking one.
//
// # Checking a configuration
//
// [Client.Ping] makes one call and tells apart a wrong URL
// ([ErrWrongURL]), an unreachable host ([ErrUnreachable]), a login page
// served instead of the API ([ErrLoginPage]), a wrong token
// ([ErrUnauthorized]) and a token without permission ([ErrForbidden]),
// each as a [*CheckError] with a hint.
//
// # SDP Cloud
//
// [ZohoTokenSource] turns a Zoho refresh token into access tokens for SDP
// Cloud. It knows the accounts server of each data centre ([DataCentre];
// overridable), keeps a token until shortly before it expires, shares one
// refresh among concurrent callers, renews at most once when SDP answers
// 401, never stores a Zoho error answer as a token, and keeps refreshes
// within Zoho's limit of 10 per 10 minutes ([ErrRefreshLimit]).
package servicedesk
