package sdptest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The handlers below run with s.mu held (route takes it).

func (s *Server) createRequest(input []byte) (int, any, *apiError) {
	ent, e := decodeEntity(input, "request")
	if e != nil {
		return 0, nil, e
	}
	if _, ok := ent["subject"]; !ok {
		return 0, nil, errMandatory("subject")
	}
	now := s.now().UnixMilli()
	r := &reqRec{created: now, template: s.cat.defTemplate, status: s.cat.defStatus, createdBy: s.cat.users[0], requester: s.cat.users[0]}
	if r.template != nil && r.template.status != nil {
		r.status = r.template.status
	}
	if e := s.apply(r, ent, true); e != nil {
		return 0, nil, e
	}
	if miss := missingMandatory(r); len(miss) > 0 {
		return 0, nil, errMandatory(miss...)
	}
	s.displaySq++
	r.displayID = strconv.FormatInt(s.displaySq, 10)
	r.id = r.displayID // on-premises, the id is the number users see
	if s.cloud {
		r.id = s.nextID()
	}
	s.stamp(r, nil)
	s.reqs[r.id] = r
	s.order = append(s.order, r)
	// Not cached: a create-heavy test keeps no rendered copies alive;
	// lists and reads cache them.
	full := s.build(r)
	s.hooks.fire(actionCreate, nil, full, r)
	return http.StatusCreated, entity("request", full), nil
}

// stamp sets the times that follow a status change.
func (s *Server) stamp(r *reqRec, before *statusRec) {
	if r.status == before || r.status == nil {
		return
	}
	now := s.now().UnixMilli()
	switch strings.ToLower(r.status.InternalName) {
	case "resolved":
		r.resolvedAt = &now
	case "closed":
		r.completedAt = &now
	}
}

func (s *Server) getRequest(id string) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	return http.StatusOK, entity("request", s.render(r)), nil
}

func (s *Server) updateRequest(id string, input []byte) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateLocked(id, input)
}

func (s *Server) updateLocked(id string, input []byte) (int, any, *apiError) {
	old, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	ent, e := decodeEntity(input, "request")
	if e != nil {
		return 0, nil, e
	}
	r := old.clone()
	if e := s.apply(r, ent, false); e != nil {
		return 0, nil, e
	}
	if miss := missingMandatory(r); len(miss) > 0 {
		return 0, nil, errMandatory(miss...)
	}
	s.commitEdit(old, r)
	return http.StatusOK, entity("request", s.build(old)), nil
}

// commitEdit stores r in place of old, stamps its times and fires the
// triggers matching the change.
func (s *Server) commitEdit(old, r *reqRec) {
	now := s.now().UnixMilli()
	r.updated = &now
	s.stamp(r, old.status)
	before := s.render(old)
	*old = *r
	old.view = nil
	s.hooks.fire(actionEdit, before, s.build(old), old)
}

func (s *Server) closeRequest(id string, input []byte) (int, any, *apiError) {
	old, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	if old.status == s.cat.closed {
		return 0, nil, &apiError{status: http.StatusBadRequest, msgs: []apiMsg{{code: 4001, message: "Request is already closed"}}}
	}
	r := old.clone()
	if input != nil {
		ent, e := decodeEntity(input, "request")
		if e != nil {
			return 0, nil, e
		}
		for k, raw := range ent {
			if k != "closure_info" {
				return 0, nil, errExtraKey(k)
			}
			ci, e := decodeClosure(raw)
			if e != nil {
				return 0, nil, e
			}
			r.closure = ci
		}
	}
	r.status = s.cat.closed
	s.commitEdit(old, r)
	return http.StatusOK, actionOK("Request(s) closed successfully."), nil
}

func decodeClosure(raw json.RawMessage) (map[string]any, *apiError) {
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil || m == nil {
		return nil, errTypeMismatch("closure_info")
	}
	out := map[string]any{}
	for k, v := range m {
		f := "closure_info." + k
		switch k {
		case "requester_ack_resolution":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return nil, errTypeMismatch(f)
			}
			out[k] = b
		case "requester_ack_comments", "closure_comments":
			var t string
			if !isJSONNull(v) && json.Unmarshal(v, &t) != nil {
				return nil, errTypeMismatch(f)
			}
			out[k] = t
		case "closure_code":
			if isJSONNull(v) {
				out[k] = nil
				continue
			}
			id, name, _, e := decodeRef(f, v, false)
			if e != nil {
				return nil, e
			}
			out[k] = map[string]any{"id": id, "name": name}
		default:
			return nil, errExtraKey(f)
		}
	}
	return out, nil
}

func (s *Server) noteKey() string {
	if s.cloud {
		return "request_note"
	}
	return "note"
}

func (s *Server) addNote(id string, input []byte) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	ent, e := decodeEntity(input, s.noteKey())
	if e != nil {
		return 0, nil, e
	}
	n := &noteRec{by: s.cat.users[0]}
	for k, v := range ent {
		switch k {
		case "description":
			if json.Unmarshal(v, &n.description) != nil {
				return 0, nil, errTypeMismatch(k)
			}
		case "show_to_requester", "notify_technician", "mark_first_response", "add_to_linked_requests":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return 0, nil, errTypeMismatch(k)
			}
			if k == "show_to_requester" {
				n.show = b
			}
		default:
			return 0, nil, errExtraKey(k)
		}
	}
	if strings.TrimSpace(n.description) == "" {
		return 0, nil, errMandatory("description")
	}
	n.id = s.nextID()
	n.added = s.now().UnixMilli()
	n.updated = n.added
	r.notes = append(r.notes, n)
	r.view = nil
	return http.StatusCreated, entity(s.noteKey(), s.renderNote(n, r, true)), nil
}

func (s *Server) getNote(id, nid string) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	for _, n := range r.notes {
		if n.id == nid {
			return http.StatusOK, entity(s.noteKey(), s.renderNote(n, r, true)), nil
		}
	}
	return 0, nil, errNotFound()
}

func (s *Server) listNotes(id string, input []byte) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	rows := make([]map[string]any, 0, len(r.notes))
	for _, n := range r.notes {
		rows = append(rows, s.renderNote(n, r, false))
	}
	key := "notes"
	if s.cloud {
		key = "request_notes"
	}
	sample := s.renderNote(&noteRec{}, r, false)
	return s.list(input, key, rows, sample, nil, "id")
}

func (s *Server) listRequests(input []byte) (int, any, *apiError) {
	rows := make([]map[string]any, 0, len(s.order))
	recs := make([]*reqRec, 0, len(s.order))
	for _, r := range s.order {
		if r.trashedOn != 0 {
			continue // trashed requests leave the list
		}
		rows = append(rows, s.render(r))
		recs = append(recs, r)
	}
	trim := func(i int, full map[string]any) map[string]any { return s.listRow(full, recs[i]) }
	sample := s.build(&reqRec{status: s.cat.defStatus, template: s.cat.defTemplate})
	return s.list(input, "requests", rows, sample, trim, "created_time")
}

// routeLookup serves the lookup endpoints.
func (s *Server) routeLookup(seg []string, input []byte) (int, any, *apiError) {
	var rows []map[string]any
	var key, single string
	c := s.cat
	switch {
	case len(seg) == 3 && seg[0] == "categories" && seg[2] == "subcategories":
		for _, cat := range c.categories {
			if cat.id == seg[1] {
				for _, sc := range cat.subs {
					rows = append(rows, map[string]any{"id": sc.id, "name": sc.name, "deleted": false, "category": cat.ref()})
				}
				return s.list(input, "subcategories", rows, nil, nil, "")
			}
		}
		return 0, nil, errNotFound()
	case len(seg) == 3 && seg[0] == "subcategories" && seg[2] == "items":
		// The items path is not verified against SDP (reference §6); this
		// fake serves items below /subcategories/{id}/items.
		for _, cat := range c.categories {
			for _, sc := range cat.subs {
				if sc.id == seg[1] {
					for _, it := range sc.items {
						rows = append(rows, map[string]any{"id": it.id, "name": it.name, "deleted": false, "subcategory": sc.ref()})
					}
					return s.list(input, "items", rows, nil, nil, "")
				}
			}
		}
		return 0, nil, errNotFound()
	case len(seg) == 3 && seg[0] == "request_templates" && seg[2] == "layouts":
		for _, t := range c.templates {
			if t.id == seg[1] {
				return http.StatusOK, map[string]any{"layouts": s.renderLayouts(t), "response_status": successStatus()}, nil
			}
		}
		return 0, nil, errNotFound()
	case len(seg) == 2 && seg[0] == "users" && seg[1] == "me" && s.cloud:
		return http.StatusOK, entity("user", s.renderUserFull(c.users[0])), nil
	case len(seg) > 2:
		return 0, nil, errNotFound()
	}
	switch seg[0] {
	case "priorities":
		key, single = "priorities", "priority"
		for _, p := range c.priorities {
			rows = append(rows, renderPriority(p))
		}
	case "statuses":
		key, single = "statuses", "status"
		for _, st := range c.statuses {
			rows = append(rows, renderStatus(st))
		}
	case "urgencies", "impacts", "levels", "modes", "request_types", "sites":
		key = seg[0]
		single = map[string]string{"urgencies": "urgency", "impacts": "impact", "levels": "level", "modes": "mode", "request_types": "request_type", "sites": "site"}[key]
		for _, n := range s.namedList(single) {
			rows = append(rows, map[string]any{"id": n.id, "name": n.name, "description": nil, "deleted": false})
		}
	case "support_groups":
		key, single = "support_groups", "support_group"
		for _, g := range c.groups {
			rows = append(rows, renderGroup(&g))
		}
	case "categories":
		key, single = "categories", "category"
		for _, cat := range c.categories {
			rows = append(rows, map[string]any{"id": cat.id, "name": cat.name, "deleted": false, "description": nil})
		}
	case "technicians", "users":
		key = seg[0]
		single = strings.TrimSuffix(key, "s")
		for _, u := range c.users {
			if key == "users" || u.IsTechnician {
				rows = append(rows, s.renderUserFull(u))
			}
		}
	case "request_templates":
		key, single = "request_templates", "request_template"
		for _, t := range c.templates {
			if len(seg) == 2 && t.id == seg[1] {
				return http.StatusOK, entity(single, s.renderTemplate(t, true)), nil
			}
			rows = append(rows, s.renderTemplate(t, false))
		}
	default:
		return 0, nil, errNotFound()
	}
	if len(seg) == 2 {
		for _, row := range rows {
			if row["id"] == seg[1] {
				return http.StatusOK, entity(single, row), nil
			}
		}
		return 0, nil, errNotFound()
	}
	return s.list(input, key, rows, nil, nil, "")
}

// metainfo describes the request fields: the UDFs with their types.
func (s *Server) metainfo() any {
	udfs := map[string]any{}
	for _, u := range s.cat.udfs {
		udfs[u.Key] = map[string]any{"id": u.id, "display_name": u.DisplayName, "field_type": u.FieldType, "type": udfType(u.FieldType)}
	}
	std := map[string]any{
		"subject":     map[string]any{"display_name": "Subject", "type": "string"},
		"description": map[string]any{"display_name": "Description", "type": "html"},
		"status":      map[string]any{"display_name": "Status", "type": "lookup", "lookup_entity": "status"},
		"priority":    map[string]any{"display_name": "Priority", "type": "lookup", "lookup_entity": "priority"},
		"category":    map[string]any{"display_name": "Category", "type": "lookup", "lookup_entity": "category"},
		"udf_fields":  map[string]any{"fields": udfs},
	}
	return map[string]any{"metainfo": map[string]any{"fields": std}, "response_status": successStatus()}
}

func udfType(fieldType string) string {
	switch fieldType {
	case "Numeric":
		return "integer"
	case "Date/Time":
		return "datetime"
	case "Check Box":
		return "boolean"
	case "Pick List":
		return "lookup"
	}
	return "string"
}

// assignRequest serves PUT /requests/{id}/assign (group and technician
// from input_data) and PUT /requests/{id}/pickup (the caller, the seed's
// first user, becomes the technician). Both are edits.
func (s *Server) assignRequest(id string, pickup bool, input []byte) (int, any, *apiError) {
	old, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	r := old.clone()
	if pickup {
		r.technician = s.cat.users[0]
		s.commitEdit(old, r)
		return http.StatusOK, actionOK("Request(s) picked up successfully."), nil
	}
	ent, e := decodeEntity(input, "request")
	if e != nil {
		return 0, nil, e
	}
	for k := range ent {
		if k != "group" && k != "technician" {
			return 0, nil, errExtraKey(k)
		}
	}
	if e := s.apply(r, ent, false); e != nil {
		return 0, nil, e
	}
	s.commitEdit(old, r)
	return http.StatusOK, actionOK("Assigned successfully."), nil
}

// addResolution serves POST /requests/{id}/resolutions, an edit of the
// request's resolution.
func (s *Server) addResolution(id string, input []byte) (int, any, *apiError) {
	old, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	ent, e := decodeEntity(input, "resolution")
	if e != nil {
		return 0, nil, e
	}
	raw, _ := json.Marshal(map[string]any{"resolution": ent})
	var wrapped map[string]json.RawMessage
	_ = json.Unmarshal(raw, &wrapped)
	r := old.clone()
	if e := s.apply(r, wrapped, false); e != nil {
		return 0, nil, e
	}
	if strings.TrimSpace(r.resolution) == "" {
		return 0, nil, errMandatory("content")
	}
	r.resolvedBy, r.resolvedOn = s.cat.users[0], s.now().UnixMilli()
	s.commitEdit(old, r)
	return http.StatusOK, actionOK("Resolution added successfully."), nil
}

func (s *Server) getResolution(id string) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	res := map[string]any{"content": nullableString(r.resolution), "resolution_attachments": []any{},
		"submitted_by": s.renderUser(r.resolvedBy), "submitted_on": nil}
	if r.resolvedOn != 0 {
		res["submitted_on"] = timePair(r.resolvedOn)
	}
	return http.StatusOK, map[string]any{"resolution": res, "response_status": successStatus()}, nil
}

// trashPath reports whether seg is the flavour's delete path: DELETE
// /requests/{id}/move_to_trash on-premises, DELETE /requests/{id} on cloud.
func (s *Server) trashPath(seg []string) bool {
	if s.cloud {
		return len(seg) == 2 && seg[0] == "requests"
	}
	return len(seg) == 3 && seg[0] == "requests" && seg[2] == "move_to_trash"
}

// trashRequest moves a request to the trash: it leaves lists, stays
// readable by id, and a second delete is answered 4016 "Already in trash".
func (s *Server) trashRequest(id string) (int, any, *apiError) {
	r, ok := s.reqs[id]
	if !ok {
		return 0, nil, errNotFound()
	}
	if r.trashedOn != 0 {
		return 0, nil, &apiError{status: http.StatusBadRequest, msgs: []apiMsg{{code: 4016, message: "Already in trash"}}}
	}
	r.trashedOn = s.now().UnixMilli()
	r.view = nil
	return http.StatusOK, entity("request", s.render(r)), nil
}
