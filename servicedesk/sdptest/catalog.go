package sdptest

import (
	"strconv"
	"strings"
	"time"
)

// Materialised seed: every entity with the id the server gave it.

type named struct{ id, name string }

func (n named) ref() map[string]any { return map[string]any{"id": n.id, "name": n.name} }

type statusRec struct {
	named
	SeedStatus
}

type priorityRec struct {
	named
	color string
}

type categoryRec struct {
	named
	subs []*subcatRec
}

type subcatRec struct {
	named
	cat   *categoryRec
	items []*itemRec
}

type itemRec struct {
	named
	sub *subcatRec
}

type userRec struct {
	id string
	SeedUser
}

type udfRec struct {
	id string
	SeedUDF
}

type templateRec struct {
	named
	SeedTemplate
	status *statusRec
}

type catalog struct {
	priorities   []*priorityRec
	statuses     []*statusRec
	urgencies    []named
	impacts      []named
	levels       []named
	modes        []named
	requestTypes []named
	sites        []named
	groups       []named
	categories   []*categoryRec
	users        []*userRec
	udfs         []*udfRec
	templates    []*templateRec
	defStatus    *statusRec
	closed       *statusRec
	defTemplate  *templateRec
}

// build gives every seeded entity an id from next.
func buildCatalog(sd *Seed, next func() string) *catalog {
	c := &catalog{}
	mk := func(names []string) []named {
		out := make([]named, len(names))
		for i, n := range names {
			out[i] = named{id: next(), name: n}
		}
		return out
	}
	for _, p := range sd.Priorities {
		c.priorities = append(c.priorities, &priorityRec{named: named{next(), p.Name}, color: p.Color})
	}
	for _, s := range sd.Statuses {
		r := &statusRec{named: named{next(), s.Name}, SeedStatus: s}
		c.statuses = append(c.statuses, r)
		if strings.EqualFold(s.InternalName, "Closed") {
			c.closed = r
		}
		if strings.EqualFold(s.Name, sd.DefaultStatus) {
			c.defStatus = r
		}
	}
	c.urgencies, c.impacts, c.levels = mk(sd.Urgencies), mk(sd.Impacts), mk(sd.Levels)
	c.modes, c.requestTypes, c.sites, c.groups = mk(sd.Modes), mk(sd.RequestTypes), mk(sd.Sites), mk(sd.Groups)
	for _, cat := range sd.Categories {
		cr := &categoryRec{named: named{next(), cat.Name}}
		for _, sc := range cat.Subcategories {
			sr := &subcatRec{named: named{next(), sc.Name}, cat: cr}
			for _, it := range sc.Items {
				sr.items = append(sr.items, &itemRec{named: named{next(), it}, sub: sr})
			}
			cr.subs = append(cr.subs, sr)
		}
		c.categories = append(c.categories, cr)
	}
	for _, u := range sd.Users {
		c.users = append(c.users, &userRec{id: next(), SeedUser: u})
	}
	for _, u := range sd.UDFs {
		c.udfs = append(c.udfs, &udfRec{id: next(), SeedUDF: u})
	}
	for _, t := range sd.Templates {
		tr := &templateRec{named: named{next(), t.Name}, SeedTemplate: t}
		if t.Status != "" {
			tr.status = findStatus(c.statuses, "", t.Status)
		}
		c.templates = append(c.templates, tr)
		if t.IsDefault {
			c.defTemplate = tr
		}
	}
	return c
}

func findStatus(list []*statusRec, id, name string) *statusRec {
	for _, s := range list {
		if matches(s.named, id, name) {
			return s
		}
	}
	return nil
}

// matches reports whether n is the entity named by id or name; the id wins
// when both are given, as in SDP.
func matches(n named, id, name string) bool {
	if id != "" {
		return n.id == id
	}
	return name != "" && strings.EqualFold(strings.TrimSpace(name), n.name)
}

func findNamed(list []named, id, name string) (named, bool) {
	for _, n := range list {
		if matches(n, id, name) {
			return n, true
		}
	}
	return named{}, false
}

func (c *catalog) udf(key string) *udfRec {
	for _, u := range c.udfs {
		if u.Key == key {
			return u
		}
	}
	return nil
}

func (c *catalog) user(id string) *userRec {
	for _, u := range c.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

// Rendering, per flavour.

const displayLayout = "Jan 2, 2006 03:04 PM"

func timePair(ms int64) map[string]any {
	return map[string]any{
		"value":         strconv.FormatInt(ms, 10),
		"display_value": time.UnixMilli(ms).UTC().Format(displayLayout),
	}
}

func optTime(ms *int64) any {
	if ms == nil {
		return nil
	}
	return timePair(*ms)
}

func nullableString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) renderUser(u *userRec) map[string]any {
	if u == nil {
		return nil
	}
	m := map[string]any{
		"id": u.id, "name": u.Name, "email_id": nullableString(u.EmailID),
		"phone": nullableString(u.Phone), "mobile": nullableString(u.Mobile), "department": nil,
	}
	if u.Department != "" {
		m["department"] = map[string]any{"id": s.deptID(u.Department), "name": u.Department}
	}
	if s.cloud {
		m["is_vip_user"] = u.IsVIP
		m["is_technician"] = u.IsTechnician
		m["sms_mail"] = nil
		m["photo_url"] = nil
	} else {
		m["is_vipuser"] = u.IsVIP
	}
	return m
}

// renderUserFull is a user as /users and /technicians return it.
func (s *Server) renderUserFull(u *userRec) map[string]any {
	m := s.renderUser(u)
	m["first_name"] = nullableString(u.FirstName)
	m["last_name"] = nullableString(u.LastName)
	m["login_name"] = u.LoginName
	m["jobtitle"] = nullableString(u.JobTitle)
	m["employee_id"] = nil
	m["is_technician"] = u.IsTechnician
	m["reporting_to"] = nil
	return m
}

// deptID gives departments stable ids derived from their names' order of
// first use; departments are not a seeded lookup of their own.
func (s *Server) deptID(name string) string {
	k := strings.ToLower(name)
	if id, ok := s.depts[k]; ok {
		return id
	}
	id := s.nextID()
	s.depts[k] = id
	return id
}

func renderStatus(st *statusRec) map[string]any {
	if st == nil {
		return nil
	}
	return map[string]any{
		"id": st.id, "name": st.name, "color": nullableString(st.Color),
		"in_progress": st.InProgress, "internal_name": st.InternalName, "stop_timer": st.StopTimer,
	}
}

func renderPriority(p *priorityRec) map[string]any {
	if p == nil {
		return nil
	}
	return map[string]any{"id": p.id, "name": p.name, "color": nullableString(p.color)}
}

func (s *Server) renderTemplateRef(t *templateRec) map[string]any {
	if t == nil {
		return nil
	}
	m := map[string]any{"id": t.id, "name": t.name}
	if !s.cloud {
		m["is_service_template"] = false
		m["service_category"] = nil
	}
	return m
}

func renderGroup(g *named) map[string]any {
	if g == nil {
		return nil
	}
	return map[string]any{"id": g.id, "name": g.name, "site": nil, "deleted": false}
}

func refOrNil(n *named) any {
	if n == nil {
		return nil
	}
	return n.ref()
}

func (s *Server) renderTemplate(t *templateRec, full bool) map[string]any {
	m := map[string]any{
		"id": t.id, "name": t.name, "image": "incident-icon", "inactive": false, "comments": nullableString(t.Comments),
		"is_service_template": false, "service_category": nil, "show_to_requester": true, "is_default": t.IsDefault,
	}
	if !full {
		return m
	}
	req := map[string]any{}
	if t.status != nil {
		req["status"] = renderStatus(t.status)
	}
	m["is_customer_segmented"] = false
	m["has_tasks"] = false
	m["has_checklists"] = false
	m["request"] = req
	m["layouts"] = s.renderLayouts(t)
	return m
}

// renderLayouts describes the template's form: a technician layout with
// one section listing the standard fields and the template's UDFs.
func (s *Server) renderLayouts(t *templateRec) []any {
	names := []string{"requester", "subject", "description", "status", "priority", "urgency", "impact", "category", "subcategory", "item", "group", "technician"}
	for _, u := range s.cat.udfs {
		names = append(names, "udf_fields."+u.Key)
	}
	fields := make([]any, 0, len(names))
	for _, n := range names {
		f := map[string]any{
			"name": n, "template_id": t.id, "default_value": []any{},
			"scopings": []any{map[string]any{"scope": "technician", "access": "editable"}},
		}
		if n == "status" && t.status != nil {
			f["default_value"] = []any{map[string]any{"value": t.status.name}}
		}
		fields = append(fields, f)
	}
	return []any{map[string]any{
		"id": t.id, "name": "Technician Layout", "help_text": []any{},
		"sections": []any{map[string]any{"id": t.id, "name": "Request Details", "fields": fields}},
	}}
}
