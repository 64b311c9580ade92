package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vulndesk/mesd/examples/internal/refkey"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/webhook"
)

// shutdownTimeout bounds how long serve waits for deliveries in progress
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// storeFlags are the flags serve and replay share.
type storeFlags struct {
	config      string
	faradayURL  string
	tokens      string
	links       string
	refKey      string
	deadLetters string
	idPolicy    string
	proxies     string
	echoWindow  time.Duration
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", defaultConfig, "mapping configuration `file` (JSON; the incoming status map is used)")
	fs.StringVar(&f.faradayURL, "faraday-url", "", "Faraday base `URL` (credentials from FARADAY_TOKEN, or FARADAY_USER and FARADAY_PASSWORD)")
	fs.StringVar(&f.tokens, "tokens", defaultTokens, "token store `file` (see the token command)")
	fs.StringVar(&f.links, "links", defaultLinks, "vuln ↔ ticket link store `file` (the export program's -state)")
	fs.StringVar(&f.refKey, "reference-key", "", "`file` of the key that verifies the tickets' footer references (default: the -links file's name + \".key\", shared with the export program; "+refkey.EnvVar+" overrides)")
	fs.StringVar(&f.deadLetters, "dead-letters", defaultDeadLetters, "`file` that deliveries which could not be applied are appended to (see replay)")
	fs.StringVar(&f.idPolicy, "id-policy", "if-present", "use of the payload's \"id\" field: if-present, required (the recommended payload) or ignored (the seed's payload)")
	fs.StringVar(&f.proxies, "trusted-proxies", "", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed")
	fs.DurationVar(&f.echoWindow, "echo-window", webhook.DefaultEchoWindow, "how long after a push its echo from the trigger is recognised")
}

func parseIDPolicy(s string) (webhook.IDPolicy, error) {
	switch s {
	case "if-present":
		return webhook.IDIfPresent, nil
	case "required":
		return webhook.IDRequired, nil
	case "ignored":
		return webhook.IDIgnored, nil
	}
	return 0, usagef("-id-policy %q: want if-present, required or ignored", s)
}

func parseProxies(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, usagef("-trusted-proxies: %q is not a CIDR such as 10.0.0.0/8", strings.TrimSpace(part))
		}
		out = append(out, p)
	}
	return out, nil
}

// loadMapper reads and validates a configuration file.
func loadMapper(path string, opts ...mapping.Option) (*mapping.Mapper, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the user names the configuration file
	if err != nil {
		return nil, usagef("config: %v", err)
	}
	return mapperOf(path, data, opts...)
}

func mapperOf(name string, data []byte, opts ...mapping.Option) (*mapping.Mapper, error) {
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		return nil, usagef("config %s: %v", name, err)
	}
	m, err := mapping.New(cfg, opts...)
	if err != nil {
		return nil, usagef("config %s: %v", name, err)
	}
	return m, nil
}

// faradayClient returns a client for Faraday with credentials from the
// environment.
func faradayClient(baseURL string, getenv func(string) string) (*faraday.Client, error) {
	if baseURL == "" {
		return nil, usagef("-faraday-url is required (Faraday's base URL: protocol and domain)")
	}
	var auth faraday.Option
	switch tok, user, pass := getenv("FARADAY_TOKEN"), getenv("FARADAY_USER"), getenv("FARADAY_PASSWORD"); {
	case tok != "":
		auth = faraday.WithToken(tok)
	case user != "" && pass != "":
		auth = faraday.WithBasicAuth(user, pass)
	default:
		return nil, usagef("no Faraday credentials: set FARADAY_TOKEN, or FARADAY_USER and FARADAY_PASSWORD")
	}
	c, err := faraday.NewClient(baseURL, auth)
	if err != nil {
		return nil, usagef("-faraday-url: %v", err)
	}
	return c, nil
}

// parts are what the handler is built from.
type parts struct {
	tokens  faraday.TokenStore
	links   faraday.LinkStore
	mapper  *mapping.Mapper
	vulns   webhook.VulnStore
	closers []func() error
}

func (p *parts) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		_ = p.closers[i]()
	}
}

// openParts opens the file stores, the configuration and the Faraday client.
func openParts(f *storeFlags, getenv func(string) string) (*parts, error) {
	p := &parts{}
	// The configuration and the Faraday flags are checked before the key
	// file is read or made, so a usage error leaves no file behind.
	if _, err := loadMapper(f.config); err != nil {
		return nil, err
	}
	c, err := faradayClient(f.faradayURL, getenv)
	if err != nil {
		return nil, err
	}
	keyPath := f.refKey
	if keyPath == "" {
		keyPath = refkey.PathFor(f.links)
	}
	key, err := refkey.Load(keyPath, getenv)
	if err != nil {
		c.CloseIdleConnections()
		return nil, usagef("-reference-key: %v", err)
	}
	m, err := loadMapper(f.config, mapping.WithReferenceKey(key))
	if err != nil {
		c.CloseIdleConnections()
		return nil, err
	}
	p.mapper = m
	p.closers = append(p.closers, func() error { c.CloseIdleConnections(); return nil })
	vs, err := webhook.NewClientVulnStore(c)
	if err != nil {
		p.close()
		return nil, err
	}
	p.vulns = vs
	ts, err := faraday.OpenFileTokenStore(f.tokens)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("token store: %w", err)
	}
	p.tokens = ts
	p.closers = append(p.closers, ts.Close)
	ls, err := faraday.OpenFileLinkStore(f.links)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("link store: %w", err)
	}
	p.links = ls
	p.closers = append(p.closers, ls.Close)
	return p, nil
}

// newHandler builds the webhook handler over p.
func newHandler(p *parts, f *storeFlags, logger *slog.Logger, dead *deadLetterFile) (*webhook.Handler, error) {
	policy, err := parseIDPolicy(f.idPolicy)
	if err != nil {
		return nil, err
	}
	proxies, err := parseProxies(f.proxies)
	if err != nil {
		return nil, err
	}
	cfg := webhook.Config{
		Tokens: p.tokens, Links: p.links, Statuses: p.mapper, Vulns: p.vulns,
		IDPolicy: policy, EchoWindow: f.echoWindow, TrustedProxies: proxies, Logger: logger,
	}
	if dead != nil {
		cfg.DeadLetter = dead.write
	}
	h, err := webhook.NewHandler(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return h, nil
}

// serve runs the handler until ctx is done (SIGINT or SIGTERM), then shuts
// down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "`address` to listen on (host:port; :8443 for every interface)")
	cert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); with -tls-key, serve HTTPS")
	key := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	dev := fs.Bool("dev", false, "demo mode: an in-memory Faraday with the sample vulns, linked tickets and a printed token; ignores the store flags")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if (*cert == "") != (*key == "") {
		return usagef("serve: give both -tls-cert and -tls-key, or neither")
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	var (
		p   *parts
		err error
		dv  *devSetup
	)
	if *dev {
		dv, err = startDev(ctx)
		if err != nil {
			return err
		}
		defer dv.close()
		p = dv.parts
	} else {
		p, err = openParts(&sf, getenv)
		if err != nil {
			return err
		}
		defer p.close()
	}
	var dead *deadLetterFile // dev mode writes nothing to disk: dead letters are only logged
	if dv == nil {
		dead = &deadLetterFile{path: sf.deadLetters, failed: func(err error) {
			logger.Error("webhook-server: could not write a dead letter", slog.String("error", err.Error()))
		}}
		// A dead letter that cannot be written is a lost change: find out
		// now, not at the first 503.
		if err := dead.append(); err != nil {
			return usagef("-dead-letters: %v", err)
		}
	}
	h, err := newHandler(p, &sf, logger, dead)
	if err != nil {
		return err
	}

	var tlsCfg *tls.Config
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return usagef("serve: TLS key pair: %v", err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}

	mux := http.NewServeMux()
	mux.Handle(webhook.Path, h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	if dv != nil {
		dv.print(stdout, base)
	}
	_, _ = fmt.Fprintf(stdout, "webhook-server: listening on %s%s (health: %s/healthz)\n", base, webhook.Path, base)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	_, _ = fmt.Fprintln(stdout, "webhook-server: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	_, _ = fmt.Fprintln(stdout, "webhook-server: stopped")
	return nil
}
