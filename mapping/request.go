package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// Mapper applies a validated Config. It is immutable and safe for
// concurrent use. Build it with New.
type Mapper struct {
	label      string
	faradayURL string
	vulnLink   template
	requester  Requester
	priority   [faraday.SeverityCritical + 1]string
	outgoing   [faraday.StatusRiskAccepted + 1]string
	incoming   map[string]Incoming
	templates  []compiledTemplate
	defaultTpl int
	bySeverity [faraday.SeverityCritical + 1]int
	tag        tagFormat
	subject    template
	sections   []string
	intro      string
	maxBytes   int
	macs       *macPool // nil: unkeyed references
}

type compiledTemplate struct {
	ref   servicedesk.TemplateRef
	label string
	base  servicedesk.RequestInput // the template's fields applied
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// ErrUnmappable is wrapped by errors about a vuln that cannot be turned
// into a request (no workspace, invalid severity or status, …).
var ErrUnmappable = errors.New("mapping: vuln cannot be mapped")

// Tag returns the subject tag of a vuln, such as "[FRD acme/123]".
func (m *Mapper) Tag(workspace string, vulnID int64) (string, error) {
	if err := checkKey(workspace, vulnID); err != nil {
		return "", err
	}
	return m.tag.render(m.label, workspace, vulnID), nil
}

// InstanceLabel returns the configured instance label ("" for a single
// instance). A Reference whose Instance differs belongs to another
// Faraday.
func (m *Mapper) InstanceLabel() string { return m.label }

// HasTag reports whether subject carries tag: whether the subject, after
// any leading white space ServiceDesk may add, starts with it. The tag
// opens every subject the Mapper writes (Validate requires the subject
// format to start with {tag}), so a tag quoted later in the subject, such
// as in a vuln named "duplicate of [FRD acme/12]", is not found. The tag
// format's rules (a delimiter after {id}, literal text around every
// placeholder that cannot occur in its values) make the prefix test exact:
// "[FRD acme/1]" does not open "[FRD acme/12] …".
func HasTag(subject, tag string) bool {
	return tag != "" && strings.HasPrefix(strings.TrimLeftFunc(subject, unicode.IsSpace), tag)
}

// Reference returns the footer reference of a vuln, with its MAC: keyed
// when the Mapper has a reference key (WithReferenceKey), else the unkeyed
// checksum.
func (m *Mapper) Reference(workspace string, vulnID int64) Reference {
	r := Reference{Instance: m.label, Workspace: workspace, VulnID: vulnID}
	if m.ReferenceKeyed() {
		var mac [keyedMACHex]byte
		m.macs.sum(&mac, r)
		r.MAC = string(mac[:])
	} else {
		r.MAC = r.crcCheck()
	}
	return r
}

// VulnLink returns the link back to a vuln in Faraday.
func (m *Mapper) VulnLink(workspace string, vulnID int64) string {
	var b strings.Builder
	m.writeVulnLink(&b, workspace, strconv.FormatInt(vulnID, 10))
	return b.String()
}

func (m *Mapper) writeVulnLink(b *strings.Builder, workspace, id string) {
	m.vulnLink.render(b, func(ph string) string {
		switch ph {
		case "faraday_url":
			return m.faradayURL
		case phWorkspace:
			return workspace
		default:
			return id
		}
	})
}

// Template returns the template chosen for a severity: the by-severity
// rule first, then the default.
func (m *Mapper) Template(sev faraday.Severity) (servicedesk.TemplateRef, error) {
	i, err := m.templateFor(sev)
	if err != nil {
		return servicedesk.TemplateRef{}, err
	}
	return m.templates[i].ref, nil
}

func (m *Mapper) templateFor(sev faraday.Severity) (int, error) {
	if !sev.Valid() {
		return -1, fmt.Errorf("%w: %w: %s", ErrUnmappable, faraday.ErrInvalidSeverity, sev)
	}
	if i := m.bySeverity[sev]; i >= 0 {
		return i, nil
	}
	return m.defaultTpl, nil
}

// RequesterConfig returns the configured requester, for the caller to
// resolve to an id.
func (m *Mapper) RequesterConfig() Requester { return m.requester }

// Request maps a vuln to the request to create: subject (with the tag),
// description (with the footer reference), requester, priority, status,
// template and the template's fields. The vuln's WorkspaceName names its
// workspace. requesterID is the requester resolved to an id by the caller;
// it may be "" when the configuration gives the id itself.
//
// The result shares nothing with the Mapper; the caller may change it.
func (m *Mapper) Request(v *faraday.Vuln, requesterID servicedesk.ID) (*servicedesk.RequestInput, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil vuln", ErrUnmappable)
	}
	ws := v.WorkspaceName
	if err := checkKey(ws, v.ID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnmappable, err)
	}
	if !v.Status.Valid() {
		return nil, fmt.Errorf("%w: vuln %s/%d: %w: %s", ErrUnmappable, ws, v.ID, faraday.ErrInvalidStatus, v.Status)
	}
	ti, err := m.templateFor(v.Severity)
	if err != nil {
		return nil, fmt.Errorf("vuln %s/%d: %w", ws, v.ID, err)
	}
	if requesterID == "" {
		requesterID = servicedesk.ID(m.requester.ID)
	}
	if requesterID == "" {
		return nil, fmt.Errorf("%w: requester %q is not resolved to an id", ErrUnmappable, m.requester.LoginName)
	}
	subject, err := m.Subject(v)
	if err != nil {
		return nil, err
	}
	t := &m.templates[ti]
	req := cloneInput(&t.base)
	req.Subject = subject
	req.Description = m.Description(v)
	req.Requester = &servicedesk.UserRef{ID: requesterID}
	req.Priority = &servicedesk.Ref{Name: m.priority[v.Severity]}
	req.Status = &servicedesk.Ref{Name: m.outgoing[v.Status]}
	tr := t.ref
	req.Template = &tr
	return req, nil
}

func cloneRef(r *servicedesk.Ref) *servicedesk.Ref {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// cloneInput copies a template's base request, pointers included.
func cloneInput(b *servicedesk.RequestInput) *servicedesk.RequestInput {
	r := *b
	for _, p := range []**servicedesk.Ref{&r.Urgency, &r.Impact, &r.Mode, &r.Level, &r.RequestType, &r.Site, &r.Group, &r.Category, &r.Subcategory, &r.Item, &r.ServiceCategory} {
		*p = cloneRef(*p)
	}
	if b.Technician != nil {
		t := *b.Technician
		r.Technician = &t
	}
	for _, p := range []**servicedesk.DateTime{&r.DueByTime, &r.FirstResponseDueByTime, &r.ScheduledStartTime, &r.ScheduledEndTime} {
		if *p != nil {
			d := **p
			*p = &d
		}
	}
	r.EmailIDsToNotify = slices.Clone(b.EmailIDsToNotify)
	if b.UDFFields != nil {
		r.UDFFields = make(map[string]any, len(b.UDFFields))
		for k, v := range b.UDFFields {
			if nm, ok := v.(map[string]any); ok {
				v = maps.Clone(nm)
			}
			r.UDFFields[k] = v
		}
	}
	return &r
}

// Subject returns the request subject of a vuln: the subject format with
// the tag and the vuln's text, as plain text (never HTML-escaped), on one
// line (line breaks, tabs and other control characters become one space),
// valid UTF-8, and at most MaxSubjectRunes runes: vuln text is cut, with
// "…", and the tag is always kept whole.
func (m *Mapper) Subject(v *faraday.Vuln) (string, error) {
	tag, err := m.Tag(v.WorkspaceName, v.ID)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnmappable, err)
	}
	// Fixed parts (literals, tag, workspace, id) are kept whole; text
	// parts (name, severity, target) share what is left of the limit.
	type part struct {
		text  string
		fixed bool
	}
	parts := make([]part, 0, len(m.subject.parts))
	fixedRunes := 0
	for _, p := range m.subject.parts {
		var pt part
		switch p.ph {
		case "":
			pt = part{text: p.lit, fixed: true}
		case "tag":
			pt = part{text: tag, fixed: true}
		case phWorkspace:
			pt = part{text: v.WorkspaceName, fixed: true}
		case phID:
			pt = part{text: strconv.FormatInt(v.ID, 10), fixed: true}
		case "name":
			pt = part{text: oneLine(v.Name)}
		case "severity":
			pt = part{text: severityLabel(v.Severity)}
		case "target":
			pt = part{text: oneLine(v.Target)}
		}
		if pt.fixed {
			fixedRunes += utf8.RuneCountInString(pt.text)
		}
		parts = append(parts, pt)
	}
	if fixedRunes > MaxSubjectRunes {
		return "", fmt.Errorf("%w: vuln %s/%d: the tag and the subject format's text take %d runes, more than the %d a subject holds", ErrUnmappable, v.WorkspaceName, v.ID, fixedRunes, MaxSubjectRunes)
	}
	// Share the budget so that short parts stay whole and only the
	// longest are cut, each to the same length.
	var lens []int
	for _, p := range parts {
		if !p.fixed {
			lens = append(lens, utf8.RuneCountInString(p.text))
		}
	}
	limit := fairCap(lens, MaxSubjectRunes-fixedRunes)
	var b strings.Builder
	for _, p := range parts {
		if p.fixed {
			b.WriteString(p.text)
			continue
		}
		if utf8.RuneCountInString(p.text) <= limit {
			b.WriteString(p.text)
			continue
		}
		if limit > 0 {
			b.WriteString(strings.TrimRightFunc(cutRunes(p.text, limit-1), unicode.IsSpace))
			b.WriteString("…")
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// fairCap returns the largest length c such that the parts, each cut to
// at most c, fit in budget.
func fairCap(lens []int, budget int) int {
	total := 0
	for _, n := range lens {
		total += n
	}
	if total <= budget {
		return math.MaxInt
	}
	sorted := slices.Clone(lens)
	slices.Sort(sorted)
	left := budget
	for i, n := range sorted {
		rest := len(sorted) - i
		if n*rest > left {
			return left / rest
		}
		left -= n
	}
	return left
}

// cutRunes returns the first n runes of s.
func cutRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// oneLine makes text fit a subject: valid UTF-8, every run of white space
// and control characters becomes one space, no leading or trailing space,
// and bidirectional formatting characters removed (they could make the
// subject display in another order than it reads, the tag included).
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if isBidiControl(r) {
			continue
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xFEFF || r == 0x200B {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r) // invalid bytes come out as U+FFFD
	}
	return b.String()
}

// isBidiControl reports whether r is a bidirectional formatting
// character: the embeddings and overrides U+202A–U+202E, the isolates
// U+2066–U+2069, and the marks U+200E, U+200F (and U+061C).
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// severityLabel returns the severity as the seed's table writes it:
// "Critical", "Informational", …
func severityLabel(s faraday.Severity) string {
	if !s.Valid() {
		return ""
	}
	n := s.String()
	return strings.ToUpper(n[:1]) + n[1:]
}

// statusLabel returns "Open", "Closed", "Re-Opened", "Risk-Accepted".
func statusLabel(s faraday.Status) string {
	if !s.Valid() {
		return ""
	}
	parts := strings.Split(s.String(), "-")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "-")
}

// TrackerEntry returns the vuln's issue-tracker ServiceDesk entry for the
// request created from it: linked, with the tag, the request's id, display
// id (the id itself on-premises, where requests have none), the UI link
// given by the caller, the template, the creation time (the request's, or
// now when it has none) and the status set at creation as the last pushed
// status. That status needs no echo check: the seed's trigger runs on edits
// only, so the entry marks its echo consumed.
func (m *Mapper) TrackerEntry(v *faraday.Vuln, created *servicedesk.Request, uiLink string, now time.Time) (*faraday.ServiceDeskEntry, error) {
	if v == nil || created == nil {
		return nil, errors.New("mapping: TrackerEntry needs the vuln and the created request")
	}
	if created.ID == "" {
		return nil, errors.New("mapping: the created request has no id")
	}
	tag, err := m.Tag(v.WorkspaceName, v.ID)
	if err != nil {
		return nil, err
	}
	e := &faraday.ServiceDeskEntry{
		State:     faraday.LinkLinked,
		Tag:       tag,
		RequestID: string(created.ID),
		DisplayID: string(cmp.Or(created.DisplayID, created.ID)),
		URL:       uiLink,
		CreatedAt: faraday.NewTime(now),
	}
	if created.CreatedTime != nil && created.CreatedTime.Millis > 0 {
		e.CreatedAt = faraday.NewTime(created.CreatedTime.Time())
	}
	if created.Template != nil {
		e.Template = cmp.Or(created.Template.Name, string(created.Template.ID))
	} else if i, err := m.templateFor(v.Severity); err == nil {
		e.Template = m.templates[i].label
	}
	if created.Status != nil && created.Status.Name != "" {
		e.LastPushedStatus = created.Status.Name
	} else if v.Status.Valid() {
		e.LastPushedStatus = m.outgoing[v.Status]
	}
	if e.LastPushedStatus != "" {
		e.LastPushedAt = e.CreatedAt
		e.EchoConsumed = true
	}
	return e, nil
}
