package servicedesk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// ErrDuplicate matches a *DuplicateError: several requests carry the same
// idempotency tag.
var ErrDuplicate = errors.New("servicedesk: several requests carry the same tag")

// DuplicateError reports that CreateOnce found more than one request whose
// subject holds the tag. CreateOnce returns the oldest (Kept) together
// with this error; Duplicates are the others, oldest first, for the caller
// to close or merge.
type DuplicateError struct {
	Tag        string
	Kept       ID
	Duplicates []ID
}

// Error names the tag, the request kept and the duplicates.
func (e *DuplicateError) Error() string {
	ids := make([]string, len(e.Duplicates))
	for i, id := range e.Duplicates {
		ids[i] = string(id)
	}
	return fmt.Sprintf("servicedesk: %d requests carry the tag %q: kept the oldest, %s; duplicates: %s",
		len(e.Duplicates)+1, truncate(e.Tag, 80), e.Kept, strings.Join(ids, ", "))
}

// Is matches ErrDuplicate.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// CreateOnce creates the request unless one already carries tag in its
// subject, which makes creates idempotent across crashes and lost
// answers: tag is a short key that opens the subject (for example
// "[FRD acme/123]" in "[FRD acme/123] SQL injection"). The tag must open
// the subject: in.Subject must start with it, or CreateOnce refuses the
// input, and only requests whose subject starts with it (after any
// leading white space) carry it. A tag quoted later in a subject, such as
// in "[FRD acme/5] duplicate of [FRD acme/12]", belongs to another request
// and is never taken for it.
//
// It searches for requests whose subject contains tag (search_criteria
// "contains", which SDP may match loosely) and keeps only those whose
// subject starts with the exact tag. The tag must end with a delimiter
// after its variable part ("]" in the example), so that "[FRD acme/12]"
// does not open "[FRD acme/123] …". When one request matches, CreateOnce returns it
// with created false. When several match, it returns the oldest (by
// created time, then id) with created false and a *DuplicateError
// (ErrDuplicate) listing the others. When none matches it creates the
// request (see RequestsService.Create) and returns it with created true.
//
// Calls for the same tag through one Client run one at a time. Calls
// through different clients or processes racing for the same tag can both
// create: callers serialise creates of one tag across processes (the
// engine records a pending intent first), and CreateOnce repairs what a
// crash or a lost answer left.
func (s *RequestsService) CreateOnce(ctx context.Context, tag string, in *RequestInput) (r *Request, created bool, err error) {
	if err := checkTag(tag); err != nil {
		return nil, false, err
	}
	if err := checkRequestInput(in, true); err != nil {
		return nil, false, err
	}
	if !subjectHasTag(in.Subject, tag) {
		return nil, false, fmt.Errorf("servicedesk: request.subject does not start with the tag %q: CreateOnce finds requests by the tag that opens their subject", truncate(tag, 80))
	}
	unlock, err := s.client.tags.lock(ctx, tag)
	if err != nil {
		return nil, false, fmt.Errorf("servicedesk: waiting for another CreateOnce of tag %q: %w", truncate(tag, 80), err)
	}
	defer unlock()
	found, err := s.FindByTag(ctx, tag)
	if err != nil {
		return nil, false, fmt.Errorf("servicedesk: searching for tag %q: %w", truncate(tag, 80), err)
	}
	switch len(found) {
	case 0:
		r, err := s.Create(ctx, in)
		if err != nil {
			return nil, false, err
		}
		return r, true, nil
	case 1:
		return found[0], false, nil
	}
	dup := &DuplicateError{Tag: tag, Kept: found[0].ID}
	for _, d := range found[1:] {
		dup.Duplicates = append(dup.Duplicates, d.ID)
	}
	return found[0], false, dup
}

// FindByTag returns every request whose subject starts with tag exactly
// (after any leading white space), oldest first (by created time, then by
// id). It is the search CreateOnce makes: a request that merely quotes tag
// later in its subject is not returned.
func (s *RequestsService) FindByTag(ctx context.Context, tag string) ([]*Request, error) {
	if err := checkTag(tag); err != nil {
		return nil, err
	}
	opts := &ListOptions{
		SearchCriteria: []Criterion{{Field: "subject", Condition: Contains, Value: tag}},
	}
	var found []*Request
	for r, err := range s.All(ctx, opts) {
		if err != nil {
			return nil, err
		}
		if r != nil && subjectHasTag(r.Subject, tag) {
			found = append(found, r)
		}
	}
	slices.SortStableFunc(found, func(a, b *Request) int {
		if c := cmp.Compare(createdMillis(a), createdMillis(b)); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	return found, nil
}

// subjectHasTag reports whether subject, after any leading white space,
// starts with tag.
func subjectHasTag(subject, tag string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(subject, unicode.IsSpace), tag)
}

func createdMillis(r *Request) int64 {
	if r.CreatedTime == nil {
		return 1<<63 - 1 // unknown: after every known time
	}
	return r.CreatedTime.Millis
}

// compareIDs orders digit ids numerically (shorter is smaller), others
// as text.
func compareIDs(a, b ID) int {
	if validID(a) && validID(b) {
		sa, sb := strings.TrimLeft(string(a), "0"), strings.TrimLeft(string(b), "0")
		if c := cmp.Compare(len(sa), len(sb)); c != 0 {
			return c
		}
		return strings.Compare(sa, sb)
	}
	return strings.Compare(string(a), string(b))
}

func checkTag(tag string) error {
	switch {
	case strings.TrimSpace(tag) == "":
		return errors.New("servicedesk: empty idempotency tag")
	case strings.ContainsAny(tag, "\r\n"):
		return errors.New("servicedesk: idempotency tag contains a line break")
	case len([]rune(tag)) > MaxSubjectLength:
		return fmt.Errorf("servicedesk: idempotency tag has more than %d characters", MaxSubjectLength)
	}
	return nil
}

// tagLocks is a set of mutexes keyed by tag, each dropped when its last
// holder leaves, so that the set does not grow with the tags seen.
type tagLocks struct {
	mu sync.Mutex
	m  map[string]*tagLock
}

type tagLock struct {
	ch    chan struct{} // holds one token while the tag is locked
	users int           // holders and waiters
}

// lock waits until tag is free or ctx ends, and returns the unlock func.
func (l *tagLocks) lock(ctx context.Context, tag string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*tagLock{}
	}
	tl := l.m[tag]
	if tl == nil {
		tl = &tagLock{ch: make(chan struct{}, 1)}
		l.m[tag] = tl
	}
	tl.users++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		tl.users--
		if tl.users == 0 {
			delete(l.m, tag)
		}
		l.mu.Unlock()
	}
	select {
	case tl.ch <- struct{}{}:
		return func() { <-tl.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
