package servicedesk

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// Option configures a Client. Options are applied in order by NewClient,
// which reports the first invalid one.
type Option func(*config) error

type config struct {
	auth          Authenticator
	authSet       bool
	portalID      string
	cloudPortal   string
	httpClient    *http.Client
	timeout       time.Duration
	timeoutSet    bool
	limit         rate.Limit
	burst         int
	retryMax      int
	retryWaitMin  time.Duration
	retryWaitMax  time.Duration
	maxRetryAfter time.Duration
	logger        *slog.Logger
	userAgent     string
	maxBody       int64
}

func defaultConfig() config {
	return config{
		timeout:       60 * time.Second,
		limit:         rate.Inf,
		retryMax:      3,
		retryWaitMin:  500 * time.Millisecond,
		retryWaitMax:  10 * time.Second,
		maxRetryAfter: 60 * time.Second,
		maxBody:       16 << 20,
	}
}

func (c *config) setAuth(a Authenticator) error {
	if c.authSet {
		return errors.New("credentials given twice (WithAuthToken / WithAuthenticator)")
	}
	c.auth, c.authSet = a, true
	return nil
}

// WithAuthToken authenticates with an on-premises technician API key, sent
// in the authtoken header. The key must be non-empty and free of spaces and
// control characters; it never appears in errors or logs.
func WithAuthToken(token string) Option {
	return func(c *config) error {
		if err := checkToken(token); err != nil {
			return err
		}
		return c.setAuth(&authToken{token: func() string { return token }})
	}
}

// WithAuthenticator authenticates with a, for example an OAuth token source
// for SDP Cloud. A Reauthenticator is given one chance to renew its
// credentials when SDP answers 401.
func WithAuthenticator(a Authenticator) Option {
	return func(c *config) error {
		if a == nil {
			return errors.New("nil Authenticator")
		}
		return c.setAuth(a)
	}
}

// WithPortalID sends the PORTALID header that on-premises multi-instance
// (ESM) deployments require. The id is numeric.
func WithPortalID(id string) Option {
	return func(c *config) error {
		if !validID(ID(id)) {
			return fmt.Errorf("invalid PORTALID %q: want a non-empty string of digits", truncate(id, 40))
		}
		c.portalID = id
		return nil
	}
}

// WithCloudPortal makes the client an SDP Cloud client addressing the
// portal with this URL name (for example "itdesk"): requests go to
// <baseURL>/app/<portal>/api/v3/. Cloud takes OAuth tokens only, so pair
// it with WithAuthenticator.
func WithCloudPortal(portal string) Option {
	return func(c *config) error {
		if portal == "" {
			return errors.New("empty cloud portal name")
		}
		if !validPortal(portal) {
			return fmt.Errorf("invalid cloud portal name %q: want letters, digits, '-', '_' or '.'", truncate(portal, 40))
		}
		c.cloudPortal = portal
		return nil
	}
}

// WithHTTPClient sends requests through a copy of hc: its Transport (nil
// means http.DefaultTransport), Jar and Timeout are kept; the Timeout
// applies to each attempt. Redirects are never followed, so that the
// credentials cannot leave for another host.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("nil *http.Client")
		}
		cp := *hc
		c.httpClient = &cp
		if !c.timeoutSet {
			c.timeout = hc.Timeout
		}
		return nil
	}
}

// WithTimeout bounds each attempt (default 60s); 0 means no bound beyond
// the call's context.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("negative timeout %v", d)
		}
		c.timeout, c.timeoutSet = d, true
		return nil
	}
}

// WithRateLimit limits the client to r requests per second with bursts of
// burst. Every attempt, retries included, waits for the limiter. r must not
// be negative; burst must be at least 1 unless r is rate.Inf (no limit, the
// default).
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *config) error {
		switch {
		case math.IsNaN(float64(r)) || r < 0:
			return fmt.Errorf("negative or NaN rate limit %v", float64(r))
		case r == 0:
			return errors.New("rate limit 0 would block every request; use rate.Inf for no limit")
		case r != rate.Inf && burst < 1:
			return fmt.Errorf("rate limit burst %d: want at least 1", burst)
		}
		c.limit, c.burst = r, burst
		return nil
	}
}

// WithRetry sets the retry policy: at most max retries after the first
// attempt (0 disables retries), waits growing from minWait to maxWait with
// jitter. Defaults: 3, 500ms, 10s.
func WithRetry(maxRetries int, minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		switch {
		case maxRetries < 0:
			return fmt.Errorf("negative retry count %d", maxRetries)
		case maxRetries > 20:
			return fmt.Errorf("retry count %d above the limit of 20", maxRetries)
		case minWait < 0 || maxWait < 0:
			return fmt.Errorf("negative retry wait (min %v, max %v)", minWait, maxWait)
		case maxWait < minWait:
			return fmt.Errorf("retry max wait %v below min wait %v", maxWait, minWait)
		}
		c.retryMax, c.retryWaitMin, c.retryWaitMax = maxRetries, minWait, maxWait
		return nil
	}
}

// WithMaxRetryAfter caps the wait a Retry-After header can ask for (default
// 60s). A longer Retry-After is shortened to d.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("negative Retry-After cap %v", d)
		}
		c.maxRetryAfter = d
		return nil
	}
}

// WithLogger logs retries and failed attempts to l at Debug and Warn
// levels. Without it the client is silent. Lines carry the method, the URL
// path (never the query) and the status or a sanitized error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil *slog.Logger")
		}
		c.logger = l
		return nil
	}
}

// WithUserAgent puts product in front of the SDK's own User-Agent.
func WithUserAgent(product string) Option {
	return func(c *config) error {
		if product == "" {
			return errors.New("empty User-Agent")
		}
		for i := 0; i < len(product); i++ {
			if ch := product[i]; ch < ' ' || ch == 0x7f {
				return errors.New("user-agent contains a control character")
			}
		}
		c.userAgent = product
		return nil
	}
}

// WithMaxBodySize caps the bytes read from any answer (default 16 MiB); a
// longer answer is an error.
func WithMaxBodySize(n int64) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max body size %d: want at least 1", n)
		}
		c.maxBody = n
		return nil
	}
}

// validPortal reports whether a portal URL name is one path segment of
// letters, digits, '-', '_' and '.', and not a dot segment.
func validPortal(p string) bool {
	if p == "." || p == ".." {
		return false
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
