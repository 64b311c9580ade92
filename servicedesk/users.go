package servicedesk

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguous matches an *AmbiguousError: a name that several entities
// answer to. The client never picks one of them.
var ErrAmbiguous = errors.New("servicedesk: ambiguous name")

// ErrUserNotFound matches a *UserNotFoundError: no user answers to the
// name, login name or email address searched for. It also matches
// ErrNotFound.
var ErrUserNotFound = errors.New("servicedesk: user not found")

// AmbiguousError reports that a search matched several users. Candidates
// lists them (id, name, login name, email address) so that the person
// configuring the integration can pick one by login name or email address.
type AmbiguousError struct {
	Query      string  // what was searched for
	MatchedBy  string  // the field the candidates share: login_name, email_id or name
	Candidates []*User // every user that matched
}

// Error lists the candidates.
func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "servicedesk: %q matches %d users by %s:", truncate(e.Query, 80), len(e.Candidates), e.MatchedBy)
	for i, u := range e.Candidates {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(e.Candidates)-i)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s (id %s", u.Name, u.ID)
		if u.LoginName != "" {
			fmt.Fprintf(&b, ", login %s", u.LoginName)
		}
		if u.EmailID != "" {
			fmt.Fprintf(&b, ", %s", u.EmailID)
		}
		b.WriteByte(')')
	}
	b.WriteString("; use a login name or an email address")
	return b.String()
}

// Is matches ErrAmbiguous.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// UserNotFoundError reports that no user answers to Query.
type UserNotFoundError struct {
	Query string
	// Near lists users whose name contains Query without being equal to
	// it (at most a few), to help correct a typo.
	Near []*User
}

// Error names the query and the near matches.
func (e *UserNotFoundError) Error() string {
	s := fmt.Sprintf("servicedesk: no user has the login name, email address or name %q", truncate(e.Query, 80))
	if len(e.Near) > 0 {
		names := make([]string, 0, len(e.Near))
		for _, u := range e.Near {
			names = append(names, u.Name)
		}
		s += fmt.Sprintf(" (similar: %s)", strings.Join(names, ", "))
	}
	return s
}

// Is matches ErrUserNotFound and ErrNotFound.
func (e *UserNotFoundError) Is(target error) bool {
	return target == ErrUserNotFound || target == ErrNotFound
}

// UsersService reads users (c.Users): List, All and Get from
// LookupService, and Find.
type UsersService struct {
	LookupService[User]
}

// TechniciansService reads technicians (c.Technicians), users who work on
// requests: List, All and Get from LookupService, and Find.
type TechniciansService struct {
	LookupService[User]
}

// Find returns the user whose login name, email address or display name
// is who (compared without case and surrounding space). Login names and
// email addresses identify one user each, so they are tried first: a user
// whose login name is who wins over another whose display name is who,
// and likewise for email addresses. When several users share the
// strongest match (two users called "Jane Doe"), Find returns an
// *AmbiguousError (ErrAmbiguous) listing them all; it never picks the
// first. When none matches it returns a *UserNotFoundError
// (ErrUserNotFound, ErrNotFound).
//
// Find asks SDP for users whose login_name or email_id is who or whose
// name contains it, in one search, and checks the answers itself.
func (s *UsersService) Find(ctx context.Context, who string) (*User, error) {
	return findUser(ctx, &s.LookupService, who)
}

// Find looks up a technician the way UsersService.Find looks up a user.
func (s *TechniciansService) Find(ctx context.Context, who string) (*User, error) {
	return findUser(ctx, &s.LookupService, who)
}

func findUser(ctx context.Context, s *LookupService[User], who string) (*User, error) {
	q := strings.TrimSpace(who)
	if q == "" {
		return nil, errors.New("servicedesk: empty user name to find")
	}
	if strings.ContainsAny(q, "\r\n\t") {
		return nil, errors.New("servicedesk: user name to find contains a control character")
	}
	opts := &ListOptions{SearchCriteria: []Criterion{
		{Field: "login_name", Condition: Is, Value: q},
		{Field: "email_id", Condition: Is, Value: q, LogicalOperator: Or},
		{Field: "name", Condition: Contains, Value: q, LogicalOperator: Or},
	}}
	var byLogin, byEmail, byName, near []*User
	seen := map[ID]bool{}
	for u, err := range s.All(ctx, opts) {
		if err != nil {
			return nil, err
		}
		if u == nil || seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		switch {
		case strings.EqualFold(strings.TrimSpace(u.LoginName), q):
			byLogin = append(byLogin, u)
		case strings.EqualFold(strings.TrimSpace(u.EmailID), q):
			byEmail = append(byEmail, u)
		case strings.EqualFold(strings.TrimSpace(u.Name), q):
			byName = append(byName, u)
		default:
			if len(near) < 5 {
				near = append(near, u)
			}
		}
	}
	for _, m := range []struct {
		field string
		users []*User
	}{{"login_name", byLogin}, {"email_id", byEmail}, {"name", byName}} {
		switch len(m.users) {
		case 0:
			continue
		case 1:
			return m.users[0], nil
		default:
			return nil, &AmbiguousError{Query: q, MatchedBy: m.field, Candidates: m.users}
		}
	}
	return nil, &UserNotFoundError{Query: q, Near: near}
}
