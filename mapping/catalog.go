package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Catalog is what a ServiceDesk instance offers, as plain names and ids.
// The caller (internal/engine) fills it from the lookup endpoints; mapping
// does no I/O. A nil list means "not fetched": Check skips what it cannot
// check instead of reporting every name as missing. An empty, non-nil list
// means the instance has none.
type Catalog struct {
	Priorities  []string
	Statuses    []string
	Templates   []CatalogTemplate
	Categories  []CatalogCategory
	Groups      []string
	Technicians []string
	Users       []CatalogUser
	// Options lists the options of other dropdown fields by field key, as
	// configured ("urgency", "impact", "udf_fields.udf_pick_5", …). When
	// Options is not nil, a dropdown field without an entry is reported:
	// its value could not be checked.
	Options map[string][]string
	// Mandatory lists, per template (by name or id), the fields ServiceDesk
	// named in 4012 "mandatory field" answers (servicedesk.Error.Fields),
	// as "category", "udf_pick_5" or "udf_fields.udf_pick_5".
	Mandatory map[string][]string
}

// CatalogTemplate is a request template and, when known, the fields of its
// layout (as field keys such as "category" or "udf_fields.txt_x").
type CatalogTemplate struct {
	ID     string
	Name   string
	Fields []string
}

// CatalogCategory is a category with its subcategories; Subcategories nil
// means not fetched.
type CatalogCategory struct {
	Name          string
	Subcategories []CatalogSubcategory
}

// CatalogSubcategory is a subcategory with its items; Items nil means not
// fetched.
type CatalogSubcategory struct {
	Name  string
	Items []string
}

// CatalogUser is a user: id, display name, login name and e-mail address.
type CatalogUser struct {
	ID        string
	Name      string
	LoginName string
	EmailID   string
}

// Check compares the configuration with an instance's catalogue and
// returns every problem as Problems (nil when none): every configured name
// the instance lacks (priorities, statuses of both maps, templates,
// categories, subcategories, items, groups, technicians, users, the
// requester), each with the closest existing name as Suggestion (see
// Closest), every dropdown value not among its options (ServiceDesk would
// drop it silently), every template field its layout does not have, and
// every mandatory field learned from 4012 answers that the configuration
// leaves without value. Call Validate first: Check assumes a configuration
// that validates.
func (c *Config) Check(cat *Catalog) error {
	var ps problems
	pr := &ps
	checkName := func(path, what, name string, list []string, kind closeness) {
		if list == nil || strings.TrimSpace(name) == "" {
			return
		}
		if containsName(list, name) {
			return
		}
		if s, ok := closest(name, list, kind); ok {
			pr.suggest(path, fmt.Sprintf("%s %q is not one this instance has; did you mean %q?", what, name, s), s)
			return
		}
		pr.add(path, fmt.Sprintf("%s %q is not one this instance has (it has %s)", what, name, listNames(list)))
	}

	for _, k := range sortedKeys(c.Priorities) {
		checkName(mapKeyPath("priorities", k), "priority", c.Priorities[k], cat.Priorities, priorityNames)
	}
	for _, k := range sortedKeys(c.Outgoing) {
		checkName(mapKeyPath("outgoing", k), "status", c.Outgoing[k], cat.Statuses, plainNames)
	}
	for _, k := range sortedKeys(c.Incoming) {
		checkName(mapKeyPath("incoming", k), "status", k, cat.Statuses, plainNames)
	}
	c.checkRequester(cat, pr)

	var tplNames []string
	if cat.Templates != nil {
		tplNames = make([]string, 0, len(cat.Templates))
		for _, t := range cat.Templates {
			tplNames = append(tplNames, t.Name)
		}
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		path := indexPath("templates", i)
		ct, found := findTemplate(cat.Templates, t)
		if cat.Templates != nil && !found {
			if t.ID != "" {
				pr.add(path+".id", fmt.Sprintf("template id %q is not one this instance has", t.ID))
			} else {
				checkName(path+".name", "template", t.Name, tplNames, plainNames)
			}
		}
		var layout []string
		if found {
			layout = ct.Fields
		}
		for j := range t.Fields {
			c.checkField(cat, &t.Fields[j], indexPath(path+".fields", j), layout, pr)
		}
		c.checkMandatory(cat, t, path, pr)
	}
	return ps.list.errOrNil()
}

func (c *Config) checkRequester(cat *Catalog, ps *problems) {
	if cat.Users == nil {
		return
	}
	r := c.Requester
	switch {
	case r.ID != "":
		for _, u := range cat.Users {
			if u.ID == strings.TrimSpace(r.ID) {
				return
			}
		}
		ps.add("requester.id", fmt.Sprintf("no user with id %q", r.ID))
	case r.LoginName != "":
		logins := make([]string, 0, len(cat.Users))
		matches := 0
		for _, u := range cat.Users {
			if u.LoginName != "" {
				logins = append(logins, u.LoginName)
			}
			if normName(u.LoginName) == normName(r.LoginName) {
				matches++
			}
		}
		switch {
		case matches == 1:
		case matches > 1:
			ps.add("requester.login_name", fmt.Sprintf("%d users have login name %q; give the requester's id", matches, r.LoginName))
		default:
			var names []string
			for _, u := range cat.Users {
				if normName(u.Name) == normName(r.LoginName) {
					names = append(names, u.LoginName)
				}
			}
			if len(names) == 1 && names[0] != "" {
				ps.suggest("requester.login_name", fmt.Sprintf("%q is a display name, not a login name; the user's login name is %q", r.LoginName, names[0]), names[0])
				return
			}
			if s, ok := Closest(r.LoginName, logins); ok {
				ps.suggest("requester.login_name", fmt.Sprintf("no user with login name %q; did you mean %q?", r.LoginName, s), s)
				return
			}
			ps.add("requester.login_name", fmt.Sprintf("no user with login name %q", r.LoginName))
		}
	}
}

func findTemplate(list []CatalogTemplate, t *Template) (CatalogTemplate, bool) {
	for _, ct := range list {
		if t.ID != "" && ct.ID == strings.TrimSpace(t.ID) {
			return ct, true
		}
	}
	if t.ID != "" {
		return CatalogTemplate{}, false
	}
	for _, ct := range list {
		if normName(ct.Name) == normName(t.Name) {
			return ct, true
		}
	}
	return CatalogTemplate{}, false
}

func (c *Config) checkField(cat *Catalog, f *Field, path string, layout []string, ps *problems) {
	key := strings.TrimSpace(f.Field)
	if layout != nil && !fieldIn(layout, key) {
		if s, ok := Closest(key, layout); ok {
			ps.suggest(path+".field", fmt.Sprintf("the template's layout has no field %q; did you mean %q?", key, s), s)
		} else {
			ps.add(path+".field", fmt.Sprintf("the template's layout has no field %q", key))
		}
	}
	switch f.Type {
	case Dropdown:
		if key == "category" {
			checkCategory(cat, f, path, ps)
			return
		}
		v, present, _ := stringValue(f, path, &problems{})
		if !present {
			return
		}
		opts, ok := cat.Options[key]
		if !ok {
			if cat.Options != nil {
				ps.add(path+".value", fmt.Sprintf("the catalogue lists no options for %s, so %q cannot be checked; fetch its options", key, v))
			}
			return
		}
		if !containsName(opts, v) {
			msg := fmt.Sprintf("%q is not among the options of %s; ServiceDesk would drop it silently", v, key)
			if s, ok := Closest(v, opts); ok {
				ps.suggest(path+".value", msg+fmt.Sprintf("; did you mean %q?", s), s)
			} else {
				ps.add(path+".value", msg+" (options: "+listNames(opts)+")")
			}
		}
	case Search:
		v, present, _ := stringValue(f, path, &problems{})
		if !present {
			return
		}
		kind := f.Search
		if kind == "" {
			kind = SearchKind(key)
		}
		var list []string
		switch kind {
		case SearchGroup:
			list = cat.Groups
		case SearchTechnician:
			list = cat.Technicians
		case SearchUser:
			if cat.Users != nil {
				list = make([]string, 0, len(cat.Users))
				for _, u := range cat.Users {
					list = append(list, u.Name)
				}
			}
		}
		if list == nil || containsName(list, v) {
			return
		}
		if s, ok := Closest(v, list); ok {
			ps.suggest(path+".value", fmt.Sprintf("no %s named %q; did you mean %q?", kind, v, s), s)
		} else {
			ps.add(path+".value", fmt.Sprintf("no %s named %q", kind, v))
		}
	}
}

func checkCategory(cat *Catalog, f *Field, path string, ps *problems) {
	if cat.Categories == nil {
		return
	}
	var cv CategoryValue
	raw := bytes.TrimSpace(f.Value)
	if len(raw) == 0 {
		return
	}
	if raw[0] == '"' {
		_ = json.Unmarshal(raw, &cv.Category)
	} else if json.Unmarshal(raw, &cv) != nil {
		return // Validate reports it
	}
	cv.Category, cv.Subcategory, cv.Item = strings.TrimSpace(cv.Category), strings.TrimSpace(cv.Subcategory), strings.TrimSpace(cv.Item)
	if cv.Category == "" {
		return
	}
	names := make([]string, len(cat.Categories))
	var found *CatalogCategory
	for i := range cat.Categories {
		names[i] = cat.Categories[i].Name
		if normName(cat.Categories[i].Name) == normName(cv.Category) {
			found = &cat.Categories[i]
		}
	}
	vpath := path + ".value"
	if found == nil {
		reportMissing(ps, vpath+".category", "category", cv.Category, names)
		return
	}
	if cv.Subcategory == "" || found.Subcategories == nil {
		return
	}
	subs := make([]string, len(found.Subcategories))
	var sub *CatalogSubcategory
	for i := range found.Subcategories {
		subs[i] = found.Subcategories[i].Name
		if normName(subs[i]) == normName(cv.Subcategory) {
			sub = &found.Subcategories[i]
		}
	}
	if sub == nil {
		reportMissing(ps, vpath+".subcategory", "subcategory of "+found.Name, cv.Subcategory, subs)
		return
	}
	if cv.Item == "" || sub.Items == nil {
		return
	}
	if !containsName(sub.Items, cv.Item) {
		reportMissing(ps, vpath+".item", "item of "+found.Name+" / "+sub.Name, cv.Item, sub.Items)
	}
}

func reportMissing(ps *problems, path, what, name string, list []string) {
	if s, ok := Closest(name, list); ok {
		ps.suggest(path, fmt.Sprintf("no %s %q; did you mean %q?", what, name, s), s)
		return
	}
	if len(list) == 0 {
		ps.add(path, fmt.Sprintf("no %s %q (there are none)", what, name))
		return
	}
	ps.add(path, fmt.Sprintf("no %s %q (there are %s)", what, name, listNames(list)))
}

// checkMandatory reports each field ServiceDesk said is mandatory for the
// template that the configuration leaves without value.
func (c *Config) checkMandatory(cat *Catalog, t *Template, path string, ps *problems) {
	var required []string
	for k, fields := range cat.Mandatory {
		if (t.ID != "" && k == t.ID) || (t.Name != "" && normName(k) == normName(t.Name)) {
			required = append(required, fields...)
		}
	}
	seen := map[string]bool{}
	for _, name := range required {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if _, owned := mappingOwned[name]; owned {
			continue // the mapping always sets it
		}
		if c.hasValue(t, name) {
			continue
		}
		ps.add(path+".fields", fmt.Sprintf("ServiceDesk requires field %q for this template (a 4012 answer named it) and no field gives it a value", name))
	}
}

// hasValue reports whether the template sets field name (also reached
// through the category dropdown and udf_fields.<key>).
func (c *Config) hasValue(t *Template, name string) bool {
	for i := range t.Fields {
		f := &t.Fields[i]
		key := strings.TrimSpace(f.Field)
		var cv CategoryValue
		if key == "category" && f.Type == Dropdown {
			raw := bytes.TrimSpace(f.Value)
			if len(raw) > 0 && raw[0] == '"' {
				_ = json.Unmarshal(raw, &cv.Category)
			} else {
				_ = json.Unmarshal(raw, &cv)
			}
			switch name {
			case "category":
				return strings.TrimSpace(cv.Category) != ""
			case "subcategory":
				return strings.TrimSpace(cv.Subcategory) != ""
			case "item":
				return strings.TrimSpace(cv.Item) != ""
			}
		}
		if !fieldIn([]string{key}, name) {
			continue
		}
		if f.Type == Raw && strings.TrimSpace(f.JSON) != "" {
			return true
		}
		raw := bytes.TrimSpace(f.Value)
		if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) && !bytes.Equal(raw, []byte(`""`)) {
			return true
		}
	}
	return false
}

// fieldIn reports whether key is in list, taking "udf_fields.x" and "x"
// as the same field.
func fieldIn(list []string, key string) bool {
	k := strings.TrimPrefix(key, "udf_fields.")
	for _, f := range list {
		if strings.TrimPrefix(strings.TrimSpace(f), "udf_fields.") == k {
			return true
		}
	}
	return false
}

func containsName(list []string, name string) bool {
	n := normName(name)
	for _, s := range list {
		if normName(s) == n {
			return true
		}
	}
	return false
}

func listNames(list []string) string {
	const max = 12
	q := make([]string, 0, max+1)
	for i, s := range list {
		if i == max {
			q = append(q, fmt.Sprintf("and %d more", len(list)-max))
			break
		}
		q = append(q, fmt.Sprintf("%q", s))
	}
	if len(q) == 0 {
		return "none"
	}
	return strings.Join(q, ", ")
}

// closeness selects the extra rule Closest applies.
type closeness int8

const (
	plainNames    closeness = iota
	priorityNames           // also match by rank among common priority words
)

// Closest returns the name of list closest to name, for "did you mean"
// suggestions. The rule, in order:
//
//  1. a name equal to name apart from case, white space, '-' and '_';
//  2. for priorities, a name of the same rank among common priority words
//     (critical, urgent, emergency, highest, blocker, p1 / high, major,
//     important, p2 / medium, normal, moderate, p3 / low, minor, p4 /
//     lowest, trivial, informational, info, none, p5): "Critical" suggests
//     "Urgent" on an instance whose top priority is Urgent;
//  3. the name at the smallest edit distance (insertions, deletions,
//     substitutions and swaps of neighbours, counted in runes, without
//     case), when that distance is at most a third of the longer
//     name's length (at least 1, at most 4): close enough to be a typo.
//     For priorities, a name whose rank among the common words is known
//     and differs from name's known rank is never suggested ("P1" does
//     not suggest "P2", nor "Highest" "High").
//
// ok is false when no name qualifies. Closest applies rules 1 and 3;
// ClosestPriority all three.
func Closest(name string, list []string) (string, bool) {
	return closest(name, list, plainNames)
}

// ClosestPriority is Closest with the priority rule (rule 2).
func ClosestPriority(name string, list []string) (string, bool) {
	return closest(name, list, priorityNames)
}

func closest(name string, list []string, kind closeness) (string, bool) {
	squash := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '_' || r == '\t' {
				return -1
			}
			return r
		}, strings.ToLower(strings.TrimSpace(s)))
	}
	sq := squash(name)
	for _, s := range list {
		if squash(s) == sq {
			return s, true
		}
	}
	if kind == priorityNames {
		if r, ok := priorityRank[sq]; ok {
			for _, s := range list {
				if rs, ok := priorityRank[squash(s)]; ok && rs == r {
					return s, true
				}
			}
		}
	}
	best, bestD := "", -1
	n := []rune(strings.ToLower(name))
	if len(n) > maxCompareRunes {
		return "", false
	}
	rank, ranked := priorityRank[sq]
	for _, s := range list {
		if kind == priorityNames && ranked {
			if rs, ok := priorityRank[squash(s)]; ok && rs != rank {
				continue
			}
		}
		c := []rune(strings.ToLower(s))
		if len(c) > maxCompareRunes {
			continue
		}
		d := editDistance(n, c)
		limit := max(len(n), len(c)) / 3
		limit = min(max(limit, 1), 4)
		if d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = s, d
		}
	}
	return best, bestD >= 0
}

var priorityRank = func() map[string]int {
	m := map[string]int{}
	for rank, words := range [][]string{
		{"critical", "urgent", "emergency", "highest", "blocker", "p1"},
		{"high", "major", "important", "p2"},
		{"medium", "normal", "moderate", "p3"},
		{"low", "minor", "p4"},
		{"lowest", "trivial", "informational", "info", "none", "p5"},
	} {
		for _, w := range words {
			m[w] = rank
		}
	}
	return m
}()

// maxCompareRunes bounds the names Closest compares by edit distance.
const maxCompareRunes = 256

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of two neighbouring runes each count
// one.
func editDistance(a, b []rune) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
