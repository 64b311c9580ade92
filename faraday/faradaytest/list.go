package faradaytest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vulndesk/mesd/faraday"
)

// row is the list envelope's entry.
type row struct {
	ID    int64 `json:"id"`
	Key   int64 `json:"key"`
	Value any   `json:"value"`
}

func envelope(vulns []*faraday.Vuln, count int, value func(*faraday.Vuln) (any, error)) (map[string]any, error) {
	rows := make([]row, 0, len(vulns))
	for _, v := range vulns {
		val, err := value(v)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{ID: v.ID, Key: v.ID, Value: val})
	}
	return map[string]any{"vulnerabilities": rows, "count": count}, nil
}

// sorted returns the workspace's vulns in Faraday's default order:
// confirmed first, then severity ascending (the database enum order), then
// creation date, then id.
func sorted(ws *workspace) []*faraday.Vuln {
	out := make([]*faraday.Vuln, 0, len(ws.vulns))
	for _, v := range ws.vulns {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *faraday.Vuln) int {
		if a.Confirmed != b.Confirmed {
			if a.Confirmed {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Severity, b.Severity), a.Date.Compare(b.Date.Time), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// listPredicate builds the filter of the list endpoint's query parameters.
func listPredicate(q url.Values) (func(*faraday.Vuln) bool, error) {
	var preds []func(*faraday.Vuln) bool
	if s := q.Get("confirmed"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("confirmed=%q: want true or false", s)
		}
		preds = append(preds, func(v *faraday.Vuln) bool { return v.Confirmed == b })
	}
	if s := q.Get("severity"); s != "" {
		sev, err := faraday.ParseSeverity(s)
		if err != nil {
			return nil, err
		}
		preds = append(preds, func(v *faraday.Vuln) bool { return v.Severity == sev })
	}
	if s := q.Get("status"); s != "" {
		st, err := faraday.ParseStatus(s)
		if err != nil {
			return nil, err
		}
		preds = append(preds, func(v *faraday.Vuln) bool { return v.Status == st })
	}
	if s := q.Get("type"); s != "" {
		preds = append(preds, func(v *faraday.Vuln) bool { return string(v.Type) == s })
	}
	if s := q.Get("service_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("service_id=%q: want an integer", s)
		}
		preds = append(preds, func(v *faraday.Vuln) bool { return v.Service != nil && v.Service.ID == id })
	}
	substr := map[string]func(*faraday.Vuln) []string{
		"target":    func(v *faraday.Vuln) []string { return []string{v.Target} },
		"hostnames": func(v *faraday.Vuln) []string { return v.Hostnames },
		"creator":   func(v *faraday.Vuln) []string { return []string{v.Metadata.Creator} },
		"name":      func(v *faraday.Vuln) []string { return []string{v.Name} },
		"search":    func(v *faraday.Vuln) []string { return []string{v.Name, v.Desc} },
		"service": func(v *faraday.Vuln) []string {
			if v.Service == nil {
				return nil
			}
			return []string{v.Service.Name, v.Service.Summary}
		},
	}
	for key, fields := range substr {
		if s := q.Get(key); s != "" {
			preds = append(preds, func(v *faraday.Vuln) bool {
				return slices.ContainsFunc(fields(v), func(f string) bool { return containsFold(f, s) })
			})
		}
	}
	return func(v *faraday.Vuln) bool {
		for _, p := range preds {
			if !p(v) {
				return false
			}
		}
		return true
	}, nil
}

// sortKeys are the fields the list endpoint's sort parameter accepts.
var sortKeys = map[string]func(a, b *faraday.Vuln) int{
	"id":        func(a, b *faraday.Vuln) int { return cmp.Compare(a.ID, b.ID) },
	"name":      func(a, b *faraday.Vuln) int { return strings.Compare(a.Name, b.Name) },
	"severity":  func(a, b *faraday.Vuln) int { return cmp.Compare(a.Severity, b.Severity) },
	"status":    func(a, b *faraday.Vuln) int { return cmp.Compare(a.Status, b.Status) },
	"target":    func(a, b *faraday.Vuln) int { return strings.Compare(a.Target, b.Target) },
	"date":      func(a, b *faraday.Vuln) int { return a.Date.Compare(b.Date.Time) },
	"confirmed": func(a, b *faraday.Vuln) int { return cmp.Compare(boolInt(a.Confirmed), boolInt(b.Confirmed)) },
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func positive(q url.Values, key string) (int, error) {
	s := q.Get(key)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", key, s)
	}
	return n, nil
}

func (s *Server) listVulns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pred, err := listPredicate(q)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "%v", err)
		return
	}
	page, err := positive(q, "page")
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "%v", err)
		return
	}
	size, err := positive(q, "page_size")
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "%v", err)
		return
	}
	var less func(a, b *faraday.Vuln) int
	if key := q.Get("sort"); key != "" {
		l, ok := sortKeys[key]
		if !ok {
			writeMessage(w, http.StatusBadRequest, "sort=%q: unknown field", key)
			return
		}
		less = l
		switch dir := q.Get("sort_dir"); dir {
		case "", "asc":
		case "desc":
			less = func(a, b *faraday.Vuln) int { return l(b, a) }
		default:
			writeMessage(w, http.StatusBadRequest, "sort_dir=%q: want asc or desc", dir)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.lookup(w, r)
	if ws == nil {
		return
	}
	var match []*faraday.Vuln
	for _, v := range sorted(ws) {
		if pred(v) {
			match = append(match, v)
		}
	}
	if less != nil {
		slices.SortStableFunc(match, less)
	}
	total := len(match)
	if size > 0 { // Faraday pages only when page_size is given
		start := (max(page, 1) - 1) * size
		match = match[min(start, len(match)):min(start+size, len(match))]
	}
	env, err := envelope(match, total, func(v *faraday.Vuln) (any, error) { return v, nil })
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, env)
}

// filterOmitted are the keys the filter endpoint leaves out of each vuln.
var filterOmitted = []string{"_attachments", "description", "desc", "refs", "request", "resolution", "response", "policyviolations", "data"}

type filterQuery struct {
	Filters []json.RawMessage `json:"filters"`
	OrderBy []struct {
		Field     string `json:"field"`
		Direction string `json:"direction"`
	} `json:"order_by"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func (s *Server) filterVulns(w http.ResponseWriter, r *http.Request) {
	var fq filterQuery
	if text := r.URL.Query().Get("q"); text != "" {
		if err := json.Unmarshal([]byte(text), &fq); err != nil {
			writeMessage(w, http.StatusBadRequest, "Invalid filters: %v", err)
			return
		}
	}
	var preds []func(*faraday.Vuln) bool
	for _, raw := range fq.Filters {
		p, err := parseFilter(raw, 0)
		if err != nil {
			writeMessage(w, http.StatusBadRequest, "Invalid filters: %v", err)
			return
		}
		preds = append(preds, p)
	}
	var orders []func(a, b *faraday.Vuln) int
	for _, o := range fq.OrderBy {
		l, ok := sortKeys[o.Field]
		if !ok || (o.Direction != "asc" && o.Direction != "desc") {
			writeMessage(w, http.StatusBadRequest, "Invalid order_by: field %q direction %q", o.Field, o.Direction)
			return
		}
		if o.Direction == "desc" {
			orders = append(orders, func(a, b *faraday.Vuln) int { return l(b, a) })
		} else {
			orders = append(orders, l)
		}
	}
	if fq.Limit < 0 || fq.Offset < 0 {
		writeMessage(w, http.StatusBadRequest, "Invalid limit or offset")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.lookup(w, r)
	if ws == nil {
		return
	}
	var match []*faraday.Vuln
	for _, v := range sorted(ws) {
		if all(preds, v) {
			match = append(match, v)
		}
	}
	if len(orders) > 0 {
		slices.SortStableFunc(match, func(a, b *faraday.Vuln) int {
			for _, o := range orders {
				if c := o(a, b); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	total := len(match)
	match = match[min(fq.Offset, len(match)):]
	if fq.Limit > 0 {
		match = match[:min(fq.Limit, len(match))]
	}
	env, err := envelope(match, total, func(v *faraday.Vuln) (any, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		for _, k := range filterOmitted {
			delete(m, k)
		}
		return m, nil
	})
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, env)
}

func all(preds []func(*faraday.Vuln) bool, v *faraday.Vuln) bool {
	for _, p := range preds {
		if !p(v) {
			return false
		}
	}
	return true
}

// filterFields gives each filterable field's value as the database holds
// it: severities and statuses by their stored names.
var filterFields = map[string]func(*faraday.Vuln) any{
	"id":          func(v *faraday.Vuln) any { return float64(v.ID) },
	"name":        func(v *faraday.Vuln) any { return v.Name },
	"severity":    func(v *faraday.Vuln) any { return v.Severity.String() },
	"status":      func(v *faraday.Vuln) any { return v.Status.String() },
	"confirmed":   func(v *faraday.Vuln) any { return v.Confirmed },
	"type":        func(v *faraday.Vuln) any { return string(v.Type) },
	"target":      func(v *faraday.Vuln) any { return v.Target },
	"external_id": func(v *faraday.Vuln) any { return nullIfEmpty(v.ExternalID) },
	"tool":        func(v *faraday.Vuln) any { return v.Tool },
	"owner":       func(v *faraday.Vuln) any { return v.Owner },
	"website":     func(v *faraday.Vuln) any { return v.Website },
	"parent_type": func(v *faraday.Vuln) any { return string(v.ParentType) },
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const maxFilterDepth = 16

func parseFilter(raw json.RawMessage, depth int) (func(*faraday.Vuln) bool, error) {
	if depth > maxFilterDepth {
		return nil, errors.New("filters nested too deep")
	}
	var f struct {
		Name string            `json:"name"`
		Op   string            `json:"op"`
		Val  any               `json:"val"`
		And  []json.RawMessage `json:"and"`
		Or   []json.RawMessage `json:"or"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.And != nil || f.Or != nil {
		group, isAnd := f.Or, false
		if f.And != nil {
			group, isAnd = f.And, true
		}
		var subs []func(*faraday.Vuln) bool
		for _, g := range group {
			p, err := parseFilter(g, depth+1)
			if err != nil {
				return nil, err
			}
			subs = append(subs, p)
		}
		return func(v *faraday.Vuln) bool {
			for _, p := range subs {
				if p(v) != isAnd {
					return !isAnd
				}
			}
			return isAnd
		}, nil
	}
	field, ok := filterFields[f.Name]
	if !ok {
		return nil, fmt.Errorf("unknown field %q", f.Name)
	}
	if f.Name == "severity" {
		if err := dbSeverities(f.Val); err != nil {
			return nil, err
		}
	}
	switch f.Op {
	case "==", "eq":
		return func(v *faraday.Vuln) bool { return field(v) == f.Val }, nil
	case "!=", "neq":
		return func(v *faraday.Vuln) bool { return field(v) != f.Val }, nil
	case "is_null":
		return func(v *faraday.Vuln) bool { return field(v) == nil }, nil
	case "is_not_null":
		return func(v *faraday.Vuln) bool { return field(v) != nil }, nil
	case "in", "not_in":
		list, ok := f.Val.([]any)
		if !ok {
			return nil, fmt.Errorf("op %q on %q needs a list", f.Op, f.Name)
		}
		want := f.Op == "in"
		return func(v *faraday.Vuln) bool { return slices.Contains(list, field(v)) == want }, nil
	case "like", "ilike":
		pat, ok := f.Val.(string)
		if !ok {
			return nil, fmt.Errorf("op %q on %q needs a string", f.Op, f.Name)
		}
		re, err := likePattern(pat, f.Op == "ilike")
		if err != nil {
			return nil, err
		}
		return func(v *faraday.Vuln) bool {
			s, ok := field(v).(string)
			return ok && re.MatchString(s)
		}, nil
	case "<", ">", "<=", ">=":
		n, ok := f.Val.(float64)
		if !ok {
			return nil, fmt.Errorf("op %q on %q needs a number", f.Op, f.Name)
		}
		return func(v *faraday.Vuln) bool {
			x, ok := field(v).(float64)
			if !ok {
				return false
			}
			switch f.Op {
			case "<":
				return x < n
			case ">":
				return x > n
			case "<=":
				return x <= n
			}
			return x >= n
		}, nil
	}
	return nil, fmt.Errorf("unsupported op %q", f.Op)
}

// dbSeverities refuses severity values that are not stored names: the
// filter language passes values to the database, where "med" is no enum
// value.
func dbSeverities(val any) error {
	vals := []any{val}
	if list, ok := val.([]any); ok {
		vals = list
	}
	for _, x := range vals {
		s, ok := x.(string)
		if !ok {
			continue
		}
		sev, err := faraday.ParseSeverity(s)
		if err != nil || sev.String() != s {
			return fmt.Errorf("invalid input value for enum vulnerability_severity: %q", s)
		}
	}
	return nil
}

// likePattern turns an SQL LIKE pattern (% and _) into a regexp.
func likePattern(p string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString(`^`)
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.Compile("(?s)" + b.String())
}
