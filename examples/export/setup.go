package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/examples/internal/refkey"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// loadConfig reads and validates the configuration and applies -template.
func loadConfig(o *options) (*mapping.Config, error) {
	data, err := os.ReadFile(o.config) //nolint:gosec // the user names the configuration file
	if err != nil {
		return nil, usagef("config: %v", err)
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		return nil, usagef("config %s: %v%s", o.config, err, configHints(err))
	}
	if o.template != "" {
		var names []string
		found := ""
		for i := range cfg.Templates {
			t := &cfg.Templates[i]
			names = append(names, t.Label())
			if strings.EqualFold(t.Name, o.template) || (t.ID != "" && t.ID == o.template) {
				found = t.Label()
			}
		}
		if found == "" {
			return nil, usagef("-template %q is not a template of %s (configured: %s)", o.template, o.config, strings.Join(names, ", "))
		}
		cfg.TemplateRule = mapping.TemplateRule{Default: found}
	}
	return cfg, nil
}

// sdpClient builds the ServiceDesk client from the flags and the
// environment.
func sdpClient(o *options, getenv func(string) string) (*servicedesk.Client, error) {
	if o.cloudPortal == "" {
		tok := getenv("SDP_AUTHTOKEN")
		if tok == "" {
			return nil, usagef("no ServiceDesk authtoken: set SDP_AUTHTOKEN (Step 1 of the setup: generate it from an administrator account)")
		}
		opts := []servicedesk.Option{servicedesk.WithAuthToken(tok)}
		if o.portalID != "" {
			opts = append(opts, servicedesk.WithPortalID(o.portalID))
		}
		c, err := servicedesk.NewClient(o.sdpURL, opts...)
		if err != nil {
			flag := "-sdp-url"
			if o.portalID != "" && strings.Contains(err.Error(), "PORTALID") {
				flag = "-portal-id"
			}
			return nil, usagef("%s: %v", flag, err)
		}
		return c, nil
	}
	id, secret, refresh := getenv("SDP_CLIENT_ID"), getenv("SDP_CLIENT_SECRET"), getenv("SDP_REFRESH_TOKEN")
	if id == "" || secret == "" || refresh == "" {
		return nil, usagef("SDP Cloud needs SDP_CLIENT_ID, SDP_CLIENT_SECRET and SDP_REFRESH_TOKEN in the environment")
	}
	zc := servicedesk.ZohoConfig{ClientID: id, ClientSecret: secret, RefreshToken: refresh, AccountsURL: o.accountsURL}
	if o.accountsURL == "" {
		zc.DataCentre = servicedesk.DataCentre(o.dataCentre)
	}
	src, err := servicedesk.NewZohoTokenSource(zc)
	if err != nil {
		return nil, usagef("SDP Cloud: %v", err)
	}
	base := o.sdpURL
	if base == "" {
		base = servicedesk.DataCentre(o.dataCentre).APIDomain() // holds its scheme
	}
	c, err := servicedesk.NewClient(base, servicedesk.WithCloudPortal(o.cloudPortal), servicedesk.WithAuthenticator(src))
	if err != nil {
		return nil, usagef("SDP Cloud: %v", err)
	}
	return c, nil
}

// faradayClient builds the Faraday client, with credentials from the
// environment.
func faradayClient(o *options, getenv func(string) string) (*faraday.Client, error) {
	var auth faraday.Option
	switch tok, user, pass := getenv("FARADAY_TOKEN"), getenv("FARADAY_USER"), getenv("FARADAY_PASSWORD"); {
	case tok != "":
		auth = faraday.WithToken(tok)
	case user != "" && pass != "":
		auth = faraday.WithBasicAuth(user, pass)
	default:
		return nil, usagef("no Faraday credentials: set FARADAY_TOKEN, or FARADAY_USER and FARADAY_PASSWORD")
	}
	c, err := faraday.NewClient(o.faradayURL, auth)
	if err != nil {
		return nil, usagef("-faraday-url: %v", err)
	}
	return c, nil
}

// app is a configured run.
type app struct {
	o     *options
	cfg   *mapping.Config
	sdp   *servicedesk.Client
	far   *faraday.Client // nil with -csv
	links *faraday.FileLinkStore
	eng   *engine.Engine
	// unlock releases the run lock on the state file.
	unlock func()
	// warn, when set, is told of CSV records whose merged rows disagreed.
	warn io.Writer
}

func newApp(o *options, getenv func(string) string) (*app, error) {
	a := &app{o: o}
	var err error
	if a.cfg, err = loadConfig(o); err != nil {
		return nil, err
	}
	if a.sdp, err = sdpClient(o, getenv); err != nil {
		return nil, err
	}
	if o.faradayURL != "" {
		if a.far, err = faradayClient(o, getenv); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(o.csv); err != nil {
		return nil, usagef("-csv: %v", err)
	}
	// Runs on one state file take turns: two at once could each find a
	// vuln unlinked and make a ticket for it.
	if a.unlock, err = lockRun(o.state + ".run.lock"); err != nil {
		return nil, err
	}
	if a.links, err = faraday.OpenFileLinkStore(o.state); err != nil {
		a.close()
		return nil, usagef("-state: %v", err)
	}
	keyPath := o.refKey
	if keyPath == "" {
		keyPath = refkey.PathFor(o.state)
	}
	key, err := refkey.Load(keyPath, getenv)
	if err != nil {
		a.close()
		return nil, usagef("-reference-key: %v", err)
	}
	ec := engine.Config{SDP: a.sdp, Mapping: a.cfg, Links: a.links, Concurrency: o.concurrency, PendingGrace: o.grace,
		MappingOptions: []mapping.Option{mapping.WithReferenceKey(key)}}
	if o.rate > 0 {
		ec.Rate, ec.Burst = rate.Limit(o.rate), max(1, int(o.rate))
	}
	if a.eng, err = engine.New(ec); err != nil {
		a.close()
		return nil, usagef("%v", err)
	}
	return a, nil
}

func (a *app) close() {
	if a.links != nil {
		_ = a.links.Close()
	}
	if a.unlock != nil {
		a.unlock()
		a.unlock = nil
	}
	if a.far != nil {
		a.far.CloseIdleConnections()
	}
}

// source returns the vulns to work through.
func (a *app) source(ctx context.Context) (iter.Seq2[*faraday.Vuln, error], func() error) {
	if a.far != nil {
		return a.far.Vulns.All(ctx, a.o.workspace, nil), func() error { return nil }
	}
	f, err := os.Open(a.o.csv)
	if err != nil {
		return func(yield func(*faraday.Vuln, error) bool) { yield(nil, err) }, func() error { return nil }
	}
	rd, err := faraday.NewExportReader(f, faraday.WithExportWorkspace(a.o.workspace))
	if err != nil {
		return func(yield func(*faraday.Vuln, error) bool) {
			yield(nil, fmt.Errorf("%s: %w", a.o.csv, err))
		}, f.Close
	}
	warn := a.warn // as when the source was made: the reconcile's pass stays quiet
	return func(yield func(*faraday.Vuln, error) bool) {
		for rec, err := range rd.All() {
			var v *faraday.Vuln
			if rec != nil {
				v = rec.Vuln
				if len(rec.Conflicts) > 0 && warn != nil {
					// Rows of one id were merged (first non-empty value
					// kept); say where they disagreed rather than hide it.
					_, _ = fmt.Fprintf(warn, "export: %s line %d: %d rows of vuln %d merged; they disagree on %s (the first row's values are used)\n",
						a.o.csv, rec.Line, rec.Rows, v.ID, strings.Join(rec.Conflicts, ", "))
				}
			}
			if err != nil && !errors.Is(err, faraday.ErrInvalidExport) {
				err = fmt.Errorf("%s: %w", a.o.csv, err)
			}
			if !yield(v, err) {
				return
			}
		}
	}, f.Close
}
