package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// tokenCmd runs "token create|list|revoke".
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("token: want a subcommand: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return tokenCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return tokenList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return tokenRevoke(ctx, args[1:], stdout, stderr)
	default:
		return usagef("token: unknown subcommand %q (want create, list or revoke)", args[0])
	}
}

func openTokens(path string) (*faraday.FileTokenStore, error) {
	s, err := faraday.OpenFileTokenStore(path)
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return s, nil
}

// tokenCreate makes a service_desk token, prints it once on stdout (alone,
// so that TOKEN=$(webhook-server token create -alias x) works) and stores
// only its hash.
func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	alias := fs.String("alias", "", "a name for the token, such as the ServiceDesk instance it is for (required)")
	expires := fs.Duration("expires", 0, "how long the token stays valid, such as 720h (0: never expires)")
	userID := fs.Int64("user-id", 1, "id of the Faraday user the token acts for")
	path := fs.String("tokens", defaultTokens, "token store `file`")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *alias == "" {
		return usagef("token create: -alias is required")
	}
	if *expires < 0 {
		return usagef("token create: -expires %v is negative", *expires)
	}
	if *userID < 1 {
		return usagef("token create: -user-id %d: want a positive id", *userID)
	}
	s, err := openTokens(*path)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	spec := faraday.UserToken{UserID: *userID, Alias: *alias, Scope: faraday.ScopeServiceDesk}
	if *expires > 0 {
		spec.ExpiresAt = time.Now().Add(*expires).UTC().Truncate(time.Second)
	}
	tok, secret, err := faraday.IssueToken(ctx, s, spec)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	_, _ = fmt.Fprintln(stdout, secret)
	exp := "never expires"
	if !tok.ExpiresAt.IsZero() {
		exp = "expires " + tok.ExpiresAt.Format(time.RFC3339)
	}
	_, _ = fmt.Fprintf(stderr, "token %d %q created (scope %s, %s) in %s.\n"+
		"Copy it now: it is shown only this once. Put it in the ServiceDesk webhook payload as \"Authorization\".\n",
		tok.ID, tok.Alias, tok.Scope, exp, *path)
	return nil
}

// tokenList prints every token's description, never a secret.
func tokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token list", stderr)
	path := fs.String("tokens", defaultTokens, "token store `file`")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := openTokens(*path)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	list, err := s.List(ctx)
	if err != nil {
		return fmt.Errorf("token list: %w", err)
	}
	if len(list) == 0 {
		_, _ = fmt.Fprintf(stdout, "no tokens in %s\n", *path)
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "ID\tALIAS\tSCOPE\tUSER\tCREATED\tEXPIRES\tSTATE")
	for _, t := range list {
		state := "active"
		switch {
		case t.Revoked:
			state = "revoked"
		case t.Expired(now):
			state = "expired"
		}
		exp := "never"
		if !t.ExpiresAt.IsZero() {
			exp = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", t.ID, strconv.Quote(t.Alias), t.Scope, t.UserID,
			t.CreatedAt.UTC().Format(time.RFC3339), exp, state)
	}
	return tw.Flush()
}

// tokenRevoke revokes one token by id.
func tokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", stderr)
	path := fs.String("tokens", defaultTokens, "token store `file`")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("token revoke: want the token's ID (see token list)")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id < 1 {
		return usagef("token revoke: %q is not a token ID (see token list)", fs.Arg(0))
	}
	s, err := openTokens(*path)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	if err := s.Revoke(ctx, id); err != nil {
		if errors.Is(err, faraday.ErrTokenNotFound) {
			return fmt.Errorf("token revoke: no token with ID %d in %s", id, *path)
		}
		return fmt.Errorf("token revoke: %w", err)
	}
	_, _ = fmt.Fprintf(stdout, "token %d revoked; the server refuses it from its next request\n", id)
	return nil
}
