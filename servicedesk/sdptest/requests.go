package sdptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// reqRec is a stored request.
type reqRec struct {
	id, displayID  string
	subject        string
	description    string
	impactDetails  string
	emailIDs       []string
	requester      *userRec
	technician     *userRec
	createdBy      *userRec
	template       *templateRec
	status         *statusRec
	priority       *priorityRec
	urgency        *named
	impact         *named
	level          *named
	mode           *named
	requestType    *named
	site           *named
	group          *named
	category       *categoryRec
	subcategory    *subcatRec
	item           *itemRec
	created        int64
	updated        *int64
	resolvedAt     *int64
	completedAt    *int64
	dueBy          *int64
	firstRespDue   *int64
	schedStart     *int64
	schedEnd       *int64
	resolution     string
	resolvedBy     *userRec
	resolvedOn     int64
	trashedOn      int64 // 0 unless in the trash
	closure        map[string]any
	udf            map[string]any
	notes          []*noteRec
	statusComments string
	// view caches render's result until the request changes; it is
	// never modified once built.
	view map[string]any
}

type noteRec struct {
	id, description string
	show            bool
	added, updated  int64
	by              *userRec
}

func (r *reqRec) clone() *reqRec {
	c := *r
	c.emailIDs = slices.Clone(r.emailIDs)
	c.udf = maps.Clone(r.udf)
	c.closure = maps.Clone(r.closure)
	c.notes = slices.Clone(r.notes)
	c.view = nil
	return &c
}

// List-view key sets, per flavour.
var onPremListKeys = []string{
	"cancel_requested", "cancel_requested_is_pending", "created_by", "created_time", "due_by_time", "group", "id",
	"is_overdue", "is_service_request", "priority", "requester", "response_time_elapsed", "short_description", "site",
	"status", "subject", "technician", "template", "time_elapsed",
}

var cloudListKeys = []string{
	"cancel_flag_comments", "cancellation_requested", "created_time", "display_id", "due_by_time", "group", "has_draft",
	"has_notes", "id", "is_service_request", "requester", "status", "subject", "technician", "template",
}

// render returns the request as SDP's JSON object of the server's flavour.
// The map is shared: callers must not change it.
func (s *Server) render(r *reqRec) map[string]any {
	if r.view == nil {
		r.view = s.build(r)
	}
	return r.view
}

func (s *Server) build(r *reqRec) map[string]any {
	var cat, sub, item any
	if r.category != nil {
		cat = r.category.ref()
	}
	if r.subcategory != nil {
		sub = r.subcategory.ref()
	}
	if r.item != nil {
		item = r.item.ref()
	}
	udf := map[string]any{}
	for _, u := range s.cat.udfs {
		udf[u.Key] = nil
	}
	maps.Copy(udf, r.udf)
	emails := r.emailIDs
	if emails == nil {
		emails = []string{}
	}
	m := map[string]any{
		"id": r.id, "subject": r.subject, "description": nullableString(r.description),
		"impact_details": nullableString(r.impactDetails), "email_ids_to_notify": emails,
		"requester": s.renderUser(r.requester), "technician": s.renderUser(r.technician), "created_by": s.renderUser(r.createdBy),
		"template": s.renderTemplateRef(r.template), "status": renderStatus(r.status), "priority": renderPriority(r.priority),
		"urgency": refOrNil(r.urgency), "impact": refOrNil(r.impact), "level": refOrNil(r.level), "mode": refOrNil(r.mode),
		"request_type": refOrNil(r.requestType), "site": refOrNil(r.site), "group": renderGroup(r.group),
		"category": cat, "subcategory": sub, "item": item, "udf_fields": udf,
		"created_time": timePair(r.created), "last_updated_time": optTime(r.updated), "assigned_time": nil,
		"due_by_time": optTime(r.dueBy), "first_response_due_by_time": optTime(r.firstRespDue),
		"sla": nil, "department": nil, "lifecycle": nil, "approval_status": nil, "notification_status": nil,
		"linked_to_request": nil, "email_to": []any{}, "email_cc": []any{},
		"has_notes": len(r.notes) > 0, "has_attachments": false, "has_linked_requests": false, "has_problem": false,
		"has_project": false, "has_draft": false, "has_request_initiated_change": false,
		"is_overdue": false, "is_first_response_overdue": false, "is_read": false, "is_reopened": false,
		"is_service_request": false, "is_trashed": false, "unreplied_count": 0,
	}
	if r.technician != nil {
		m["assigned_time"] = timePair(r.created)
	}
	if s.cloud {
		m["display_id"] = r.displayID
		m["resolution"] = nil
		if r.resolution != "" {
			m["resolution"] = map[string]any{"content": r.resolution}
		}
		m["attachments"] = []any{}
		m["cancel_flag_comments"] = nil
		m["cancellation_requested"] = false
		m["completed_time"] = optTime(r.completedAt)
		m["resolved_time"] = optTime(r.resolvedAt)
		m["deleted_time"] = nil
		m["responded_time"] = nil
		m["email_bcc"] = []any{}
		m["is_escalated"] = false
		m["is_fcr"] = false
		m["onhold_scheduler"] = nil
		m["time_elapsed"] = "0"
	} else {
		m["resolution"] = map[string]any{"resolution_attachments": []any{}, "content": nullableString(r.resolution)}
		for _, k := range []string{"callback_url", "cancel_requested_by", "cancel_requested_time", "ola_due_by_time",
			"onhold_time", "primary_asset", "reason_for_cancel", "recommend_template", "service_category",
			"sla_violated_group", "sla_violated_technician"} {
			m[k] = nil
		}
		m["assets"] = []any{}
		m["tags"] = []any{}
		m["request_template_task_ids"] = []any{}
		m["chat_type"] = 0
		for _, k := range []string{"cancel_requested", "cancel_requested_is_pending", "has_conversation", "has_dependency",
			"has_request_caused_by_change", "has_resolution_attachments", "is_shared"} {
			m[k] = false
		}
		m["scheduled_start_time"] = optTime(r.schedStart)
		m["scheduled_end_time"] = optTime(r.schedEnd)
	}
	if r.closure != nil {
		m["closure_info"] = r.closure
	}
	if r.trashedOn != 0 {
		m["is_trashed"] = true
		if s.cloud {
			m["deleted_time"] = timePair(r.trashedOn)
		} else {
			m["deleted_by"] = s.renderUser(s.cat.users[0])
			m["deleted_on"] = timePair(r.trashedOn)
		}
	}
	return m
}

// listRow trims a rendered request to the list view's keys.
func (s *Server) listRow(full map[string]any, r *reqRec) map[string]any {
	keys := onPremListKeys
	if s.cloud {
		keys = cloudListKeys
	}
	row := make(map[string]any, len(keys))
	for _, k := range keys {
		row[k] = full[k]
	}
	if !s.cloud {
		row["short_description"] = shortDescription(r.description)
		row["time_elapsed"] = nil
		row["response_time_elapsed"] = nil
	}
	return row
}

// shortDescription is the description's text without tags, cut at 100
// characters, as list rows show it.
func shortDescription(html string) any {
	var b strings.Builder
	in := false
	for _, c := range html {
		switch {
		case c == '<':
			in = true
		case c == '>':
			in = false
		case !in:
			b.WriteRune(c)
		}
	}
	t := strings.Join(strings.Fields(b.String()), " ")
	if t == "" {
		return nil
	}
	if utf8.RuneCountInString(t) > 100 {
		t = string([]rune(t)[:100])
	}
	return t
}

func (s *Server) renderNote(n *noteRec, r *reqRec, full bool) map[string]any {
	req := map[string]any{"id": r.id, "subject": r.subject}
	if s.cloud {
		req["display_id"] = r.displayID
	}
	m := map[string]any{
		"id": n.id, "request": req, "show_to_requester": n.show, "attachments": []any{},
		"added_by": s.renderUser(n.by), "last_updated_by": s.renderUser(n.by),
		"added_time": timePair(n.added), "last_updated_time": timePair(n.updated),
	}
	if full {
		m["description"] = n.description
		m["has_attachments"] = false
	}
	return m
}

// Writes.

// fieldKind is how a request field is written.
type fieldKind int

const (
	kText fieldKind = iota + 1
	kSubject
	kTextList
	kRef
	kUser
	kTemplate
	kTime
	kResolution
	kUDF
	kReadOnly
)

var writeFields = map[string]fieldKind{
	"subject": kSubject, "description": kText, "impact_details": kText, "update_reason": kText,
	"status_change_comments": kText, "email_ids_to_notify": kTextList,
	"requester": kUser, "technician": kUser, "template": kTemplate,
	"status": kRef, "priority": kRef, "urgency": kRef, "impact": kRef, "mode": kRef, "level": kRef,
	"request_type": kRef, "site": kRef, "group": kRef, "category": kRef, "subcategory": kRef, "item": kRef,
	"due_by_time": kTime, "first_response_due_by_time": kTime, "scheduled_start_time": kTime, "scheduled_end_time": kTime,
	"resolution": kResolution, "udf_fields": kUDF,
	"id": kReadOnly, "display_id": kReadOnly, "created_time": kReadOnly, "created_by": kReadOnly,
	"last_updated_time": kReadOnly, "has_notes": kReadOnly, "is_overdue": kReadOnly,
}

// decodeEntity reads input_data as {"<key>": {...}} and returns the
// entity's members. Any other top-level key is an extra key.
func decodeEntity(input []byte, key string) (map[string]json.RawMessage, *apiError) {
	if input == nil {
		return nil, errMandatory("input_data")
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(input, &top); err != nil || top == nil {
		return nil, errInvalidField("input_data", "Invalid input_data: not a JSON object")
	}
	for k := range top {
		if k != key {
			return nil, errExtraKey(k)
		}
	}
	raw, ok := top[key]
	if !ok {
		return nil, errMandatory(key)
	}
	var ent map[string]json.RawMessage
	if err := strictUnmarshal(raw, &ent); err != nil || ent == nil {
		return nil, errTypeMismatch(key)
	}
	return ent, nil
}

// strictUnmarshal decodes one JSON value and refuses trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

type refIn struct {
	ID      json.RawMessage `json:"id"`
	Name    *string         `json:"name"`
	EmailID *string         `json:"email_id"`
	// Template extras, accepted and ignored.
	IsServiceTemplate *bool           `json:"is_service_template"`
	ServiceCategory   json.RawMessage `json:"service_category"`
}

// decodeRef reads {"id"} / {"name"} / {"email_id"}; the id may be a JSON
// string or number.
func decodeRef(field string, raw json.RawMessage, user bool) (id, name, email string, e *apiError) {
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil || m == nil {
		return "", "", "", errTypeMismatch(field)
	}
	for k := range m {
		switch k {
		case "id", "name":
		case "email_id":
			if !user {
				return "", "", "", errExtraKey(field + "." + k)
			}
		case "is_service_template", "service_category":
			if field != "template" {
				return "", "", "", errExtraKey(field + "." + k)
			}
		default:
			return "", "", "", errExtraKey(field + "." + k)
		}
	}
	var in refIn
	if err := strictUnmarshal(raw, &in); err != nil {
		return "", "", "", errTypeMismatch(field)
	}
	if len(in.ID) > 0 && !isJSONNull(in.ID) {
		var s string
		var n json.Number
		switch {
		case json.Unmarshal(in.ID, &s) == nil:
			id = s
		case json.Unmarshal(in.ID, &n) == nil:
			id = n.String()
		default:
			return "", "", "", errTypeMismatch(field + ".id")
		}
		if id == "" {
			return "", "", "", errInvalid(field)
		}
	}
	if in.Name != nil {
		name = *in.Name
	}
	if in.EmailID != nil {
		email = *in.EmailID
	}
	if id == "" && strings.TrimSpace(name) == "" && strings.TrimSpace(email) == "" {
		return "", "", "", errInvalid(field)
	}
	return id, name, email, nil
}

// apply writes the fields of ent to r. It reports the first bad field,
// checking fields in a fixed order so that answers are deterministic.
func (s *Server) apply(r *reqRec, ent map[string]json.RawMessage, creating bool) *apiError {
	keys := slices.Sorted(maps.Keys(ent))
	// The template first: it decides the defaults and mandatory fields;
	// then category before subcategory before item.
	order := func(k string) int {
		switch k {
		case "template":
			return 0
		case "category":
			return 1
		case "subcategory":
			return 2
		case "item":
			return 3
		}
		return 4
	}
	slices.SortStableFunc(keys, func(a, b string) int { return order(a) - order(b) })
	for _, k := range keys {
		raw := ent[k]
		kind, ok := writeFields[k]
		if !ok {
			return errExtraKey(k)
		}
		if err := s.applyField(r, k, kind, raw, creating); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) applyField(r *reqRec, k string, kind fieldKind, raw json.RawMessage, creating bool) *apiError {
	null := isJSONNull(raw)
	switch kind {
	case kReadOnly:
		return &apiError{status: 400, msgs: []apiMsg{{code: 4014, field: k, message: "Cannot edit read-only field"}}}
	case kSubject, kText:
		var v string
		if !null {
			if err := json.Unmarshal(raw, &v); err != nil {
				return errTypeMismatch(k)
			}
		}
		switch k {
		case "subject":
			if strings.TrimSpace(v) == "" {
				return errMandatory("subject")
			}
			if utf8.RuneCountInString(v) > 250 {
				return errInvalidField("subject", "Invalid Input: subject exceeds 250 characters")
			}
			r.subject = v
		case "description":
			r.description = v
		case "impact_details":
			r.impactDetails = v
		case "status_change_comments":
			r.statusComments = v
		}
	case kTextList:
		var v []string
		if !null {
			if err := json.Unmarshal(raw, &v); err != nil {
				return errTypeMismatch(k)
			}
		}
		r.emailIDs = v
	case kTime:
		var ms *int64
		if !null {
			v, err := decodeMillis(raw)
			if err != nil {
				return errTypeMismatch(k)
			}
			ms = &v
		}
		switch k {
		case "due_by_time":
			r.dueBy = ms
		case "first_response_due_by_time":
			r.firstRespDue = ms
		case "scheduled_start_time":
			r.schedStart = ms
		case "scheduled_end_time":
			r.schedEnd = ms
		}
	case kResolution:
		if null {
			r.resolution = ""
			return nil
		}
		var v struct {
			Content             *string `json:"content"`
			AddToLinkedRequests *bool   `json:"add_to_linked_requests"`
		}
		if err := strictUnmarshal(raw, &v); err != nil {
			return errTypeMismatch(k)
		}
		if v.Content != nil {
			r.resolution = *v.Content
		}
	case kUDF:
		if null {
			r.udf = nil
			return nil
		}
		var m map[string]json.RawMessage
		if err := strictUnmarshal(raw, &m); err != nil || m == nil {
			return errTypeMismatch(k)
		}
		for _, key := range slices.Sorted(maps.Keys(m)) {
			if s.cat.udf(key) == nil {
				return errInvalidField("udf_fields."+key, "Invalid Input: no such user-defined field")
			}
			var v any
			if err := strictUnmarshal(m[key], &v); err != nil {
				return errTypeMismatch("udf_fields." + key)
			}
			if r.udf == nil {
				r.udf = map[string]any{}
			}
			switch x := v.(type) {
			case nil:
				delete(r.udf, key)
			case string, bool, json.Number:
				r.udf[key] = x
			default:
				return errTypeMismatch("udf_fields." + key)
			}
		}
	case kUser:
		if null {
			if k == "requester" {
				return errMandatory(k)
			}
			r.technician = nil
			return nil
		}
		id, name, email, e := decodeRef(k, raw, true)
		if e != nil {
			return e
		}
		u, e := s.findUser(k, id, name, email)
		if e != nil {
			return e
		}
		if k == "technician" {
			if !u.IsTechnician {
				return errInvalid(k)
			}
			r.technician = u
		} else {
			r.requester = u
		}
	case kTemplate:
		if null {
			return errMandatory(k)
		}
		if !creating {
			return &apiError{status: 400, msgs: []apiMsg{{code: 4009, field: k, message: "Cannot edit non-editable field"}}}
		}
		id, name, _, e := decodeRef(k, raw, false)
		if e != nil {
			return e
		}
		var t *templateRec
		for _, x := range s.cat.templates {
			if matches(x.named, id, name) {
				t = x
			}
		}
		if t == nil {
			return errInvalid(k)
		}
		r.template = t
		if t.status != nil {
			r.status = t.status
		}
	case kRef:
		return s.applyRef(r, k, raw, null)
	}
	return nil
}

func (s *Server) applyRef(r *reqRec, k string, raw json.RawMessage, null bool) *apiError {
	if null {
		switch k {
		case "status":
			return errMandatory(k)
		case "priority":
			r.priority = nil
		case "category":
			r.category, r.subcategory, r.item = nil, nil, nil
		case "subcategory":
			r.subcategory, r.item = nil, nil
		case "item":
			r.item = nil
		default:
			*s.namedSlot(r, k) = nil
		}
		return nil
	}
	id, name, _, e := decodeRef(k, raw, false)
	if e != nil {
		return e
	}
	switch k {
	case "status":
		st := findStatus(s.cat.statuses, id, name)
		if st == nil {
			return errInvalid(k)
		}
		r.status = st
	case "priority":
		for _, p := range s.cat.priorities {
			if matches(p.named, id, name) {
				r.priority = p
				return nil
			}
		}
		return errInvalid(k)
	case "category":
		for _, c := range s.cat.categories {
			if matches(c.named, id, name) {
				if r.category != c {
					r.subcategory, r.item = nil, nil
				}
				r.category = c
				return nil
			}
		}
		return errInvalid(k)
	case "subcategory":
		if r.category == nil {
			return errInvalidField(k, "Invalid Input: subcategory given without category")
		}
		for _, sc := range r.category.subs {
			if matches(sc.named, id, name) {
				if r.subcategory != sc {
					r.item = nil
				}
				r.subcategory = sc
				return nil
			}
		}
		return errInvalid(k)
	case "item":
		if r.subcategory == nil {
			return errInvalidField(k, "Invalid Input: item given without subcategory")
		}
		for _, it := range r.subcategory.items {
			if matches(it.named, id, name) {
				r.item = it
				return nil
			}
		}
		return errInvalid(k)
	default:
		n, ok := findNamed(s.namedList(k), id, name)
		if !ok {
			return errInvalid(k)
		}
		*s.namedSlot(r, k) = &n
	}
	return nil
}

func (s *Server) namedList(k string) []named {
	switch k {
	case "urgency":
		return s.cat.urgencies
	case "impact":
		return s.cat.impacts
	case "level":
		return s.cat.levels
	case "mode":
		return s.cat.modes
	case "request_type":
		return s.cat.requestTypes
	case "site":
		return s.cat.sites
	case "group":
		return s.cat.groups
	}
	return nil
}

func (s *Server) namedSlot(r *reqRec, k string) **named {
	switch k {
	case "urgency":
		return &r.urgency
	case "impact":
		return &r.impact
	case "level":
		return &r.level
	case "mode":
		return &r.mode
	case "request_type":
		return &r.requestType
	case "site":
		return &r.site
	default: // group
		return &r.group
	}
}

// findUser resolves a user by id, else email, else display name. A display
// name two users share is ambiguous and refused (4001), so that a host
// never files a request for the wrong person.
func (s *Server) findUser(field, id, name, email string) (*userRec, *apiError) {
	if id != "" {
		if u := s.cat.user(id); u != nil {
			return u, nil
		}
		return nil, errInvalid(field)
	}
	if email != "" {
		for _, u := range s.cat.users {
			if u.EmailID != "" && strings.EqualFold(u.EmailID, strings.TrimSpace(email)) {
				return u, nil
			}
		}
		return nil, errInvalid(field)
	}
	var found []*userRec
	for _, u := range s.cat.users {
		if strings.EqualFold(u.Name, strings.TrimSpace(name)) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return nil, errInvalid(field)
	case 1:
		return found[0], nil
	}
	return nil, errInvalidField(field, "Invalid Input: more than one user has this name; give id or email_id")
}

// missingMandatory lists the mandatory fields of r's template that r does
// not carry.
func missingMandatory(r *reqRec) []string {
	if r.template == nil {
		return nil
	}
	var miss []string
	for _, f := range r.template.Mandatory {
		if k, ok := strings.CutPrefix(f, "udf_fields."); ok {
			v, has := r.udf[k]
			if !has || v == nil || v == "" {
				miss = append(miss, f)
			}
			continue
		}
		if !hasField(r, f) {
			miss = append(miss, f)
		}
	}
	return miss
}

func hasField(r *reqRec, f string) bool {
	switch f {
	case "subject":
		return r.subject != ""
	case "description":
		return r.description != ""
	case "impact_details":
		return r.impactDetails != ""
	case "requester":
		return r.requester != nil
	case "technician":
		return r.technician != nil
	case "status":
		return r.status != nil
	case "priority":
		return r.priority != nil
	case "category":
		return r.category != nil
	case "subcategory":
		return r.subcategory != nil
	case "item":
		return r.item != nil
	case "due_by_time":
		return r.dueBy != nil
	case "urgency":
		return r.urgency != nil
	case "impact":
		return r.impact != nil
	case "level":
		return r.level != nil
	case "mode":
		return r.mode != nil
	case "request_type":
		return r.requestType != nil
	case "site":
		return r.site != nil
	case "group":
		return r.group != nil
	}
	return false
}

// decodeMillis reads {"value": ms} with ms a number or a numeric string,
// or a bare number or numeric string.
func decodeMillis(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var p map[string]json.RawMessage
		if err := strictUnmarshal(raw, &p); err != nil {
			return 0, err
		}
		for k := range p {
			if k != "value" && k != "display_value" {
				return 0, fmt.Errorf("unknown key %q", k)
			}
		}
		v, ok := p["value"]
		if !ok {
			return 0, fmt.Errorf("no value")
		}
		raw = bytes.TrimSpace(v)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strconv.ParseInt(s, 10, 64)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	return n.Int64()
}
