package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/webhook"
)

// Example mounts the handler at the seed's path and receives one delivery
// as an SDP configured exactly as the seed says sends it: the token in the
// body, "X-ServiceDesk-Token: 1", and the description substituted raw.
func Example() {
	ctx := context.Background()

	// The status maps, as the user configured them.
	data, err := os.ReadFile("testdata/mapping.json")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		log.Fatal(err)
	}
	// The reference key the exporter used to write the tickets' footers
	// (mapping.NewReferenceKey once, stored as mapping.EncodeReferenceKey
	// text); the webhook verifies footers with the same key.
	keyText, err := os.ReadFile("testdata/reference.key")
	if err != nil {
		log.Fatal(err)
	}
	refKey, err := mapping.ParseReferenceKey(string(keyText))
	if err != nil {
		log.Fatal(err)
	}
	mapper, err := mapping.New(cfg, mapping.WithReferenceKey(refKey))
	if err != nil {
		log.Fatal(err)
	}

	// A service_desk token for the SDP webhook (shown once).
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		log.Fatal(err)
	}

	// Vuln acme/7 was exported as request 4242.
	key := faraday.VulnKey{Workspace: "acme", VulnID: 7}
	links := faraday.NewMemoryLinkStore()
	link := faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: "4242"}}
	if _, err := links.CompareAndSet(ctx, link, 0); err != nil {
		log.Fatal(err)
	}
	vulns := webhook.NewMemoryVulnStore() // or webhook.NewClientVulnStore(faradayClient)
	vulns.Put(key, faraday.StatusOpen)

	h, err := webhook.NewHandler(webhook.Config{
		Tokens:   tokens,
		Links:    links,
		Statuses: mapper,
		Vulns:    vulns,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+webhook.Path, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What SDP sends: the description holds quotes and a line break, pasted
	// raw, so the body is not valid JSON.
	desc := "<div>Fixed \"login\" form\nby patch 12</div>" + "<p>" + mapper.Reference("acme", 7).String() + "</p>"
	body := "{\n\"status\": \"Resolved\",\n\"desc\": \"" + desc + "\",\n\"id\": \"4242\",\n\"Authorization\": \"" + token + "\"\n}"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+webhook.Path, strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderToken, "1")
	res, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	st, _ := vulns.Status(ctx, key)
	fmt.Println(res.StatusCode, string(answer))
	fmt.Println("vuln", key, "is now", st)
	// Output:
	// 200 {"result":"updated","vuln":"acme/7","status":"closed"}
	// vuln acme/7 is now closed
}

// faradayDown is a VulnStore whose writes fail while down is set, as
// when Faraday is being restarted.
type faradayDown struct {
	*webhook.MemoryVulnStore
	down bool
}

func (f *faradayDown) SetStatus(ctx context.Context, key faraday.VulnKey, s faraday.Status) error {
	if f.down {
		return errors.New("faraday: 502 Bad Gateway")
	}
	return f.MemoryVulnStore.SetStatus(ctx, key, s)
}

// ExampleHandler_Replay keeps the deliveries that could not be applied and
// replays them once Faraday is back.
func ExampleHandler_Replay() {
	ctx := context.Background()
	data, _ := os.ReadFile("testdata/mapping.json")
	cfg, _ := mapping.LoadConfig(data)
	// The id field after "desc" decides (IDRequired), so no reference key
	// is needed here.
	mapper, _ := mapping.New(cfg)
	tokens := faraday.NewMemoryTokenStore()
	_, token, _ := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	key := faraday.VulnKey{Workspace: "acme", VulnID: 7}
	links := faraday.NewMemoryLinkStore()
	_, _ = links.CompareAndSet(ctx, faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: "4242"}}, 0)
	vulns := &faradayDown{MemoryVulnStore: webhook.NewMemoryVulnStore(), down: true}
	vulns.Put(key, faraday.StatusOpen)

	var dead []webhook.DeadLetter // a host would keep them in a durable queue
	h, err := webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: links, Statuses: mapper, Vulns: vulns,
		IDPolicy:   webhook.IDRequired,
		Logger:     slog.New(slog.DiscardHandler),
		Retry:      webhook.Retry{Attempts: 2, Wait: time.Millisecond},
		DeadLetter: func(d webhook.DeadLetter) { dead = append(dead, d) },
	})
	if err != nil {
		log.Fatal(err)
	}
	body := `{"status": "Resolved", "desc": "", "id": "4242", "Authorization": "` + token + `"}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, webhook.Path, strings.NewReader(body)))
	fmt.Println(rec.Code, rec.Body.String())
	fmt.Printf("dead letter: ticket %s, status %q, %v\n", dead[0].TicketID, dead[0].SDPStatus, dead[0].Err)

	vulns.down = false // Faraday is back
	o := h.Replay(ctx, dead[0])
	fmt.Println("replayed:", o.Result, o.Vuln, o.Status)
	// Output:
	// 503 {"error":"unavailable"}
	// dead letter: ticket 4242, status "Resolved", faraday: 502 Bad Gateway
	// replayed: updated acme/7 closed
}
