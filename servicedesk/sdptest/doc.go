// Package sdptest is a fake ManageEngine ServiceDesk Plus for tests, in the
// manner of slack-go's slacktest: an httptest server holding real state.
//
// Requests are created, read, edited, listed, searched and closed against an
// in-memory store, as the SDP v3 wire format says (input_data as a form
// field or in the query, response_status as an object on single entities
// and an array on lists, ids as strings, times as {value, display_value}).
// No handler serves a canned answer. Lookups (priorities, statuses,
// urgencies, impacts, levels, modes, request types, sites, categories with
// subcategories and items, support groups, technicians, users) and request
// templates come from a [Seed] a test can replace.
//
//	srv := sdptest.NewServer()
//	defer srv.Close()
//	c, _ := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken))
//
// # Flavours
//
// On-premises (the default): the API under /api/v3, small ids, the note key
// "note", the authtoken (or TECHNICIAN_KEY) header. Cloud ([WithCloud]): the
// API under /app/<portal>/api/v3, 18-digit ids with a display_id, the note
// key "request_note", Authorization: Zoho-oauthtoken access tokens issued
// by a fake Zoho accounts endpoint (POST /oauth/v2/token on the same
// server), and the HTML login page with status 200 for a call whose Accept
// header is not application/vnd.manageengine.sdp.v3+json.
//
// # Endpoints
//
// Requests: GET and POST /requests, GET and PUT /requests/{id}, PUT
// /requests/{id}/close, /assign and /pickup, GET and POST
// /requests/{id}/notes and /resolutions, GET /requests/{id}/notes/{note_id},
// the trash (DELETE /requests/{id}/move_to_trash on-premises, DELETE
// /requests/{id} on cloud; trashed requests leave lists, a second delete is
// 4016 "Already in trash"), GET /requests/_metainfo. Templates: GET
// /request_templates, /request_templates/{id} and
// /request_templates/{id}/layouts. Lookups: GET /priorities, /statuses,
// /urgencies, /impacts, /levels, /modes, /request_types, /sites,
// /support_groups, /technicians, /users (each also /{id}), /categories,
// /categories/{id}/subcategories and /subcategories/{id}/items (the items
// path is not verified against SDP), and on cloud /users/me. List endpoints
// take list_info: row_count (default 10, above 100 clamped to 100),
// start_index or page, sort_field and sort_order, get_total_count,
// search_fields (equality) and search_criteria (is, is not, contains, not
// contains, starts with, ends with, greater/lesser (or equal), between, not
// between, their short forms, value or values — "is" with several values
// is "in" — and logical_operator and children, folded left to right). Text
// comparisons ignore case; numbers and epoch-millisecond times compare as
// numbers; a field with no value matches only the negative conditions.
//
// # Answers
//
// Missing or wrong credentials: 401 with 4022. An unknown name or id in a
// lookup field: 400 with 4001 naming the field. A mandatory field of the
// template missing: 400 with one 4012 message per field, naming it. An
// unknown request or note, or an unknown path: 404 with 4007 "Invalid
// URL". Closing a closed request: 400 with 4001 "Request is already
// closed". input_data that is not a JSON object: 4001 on field input_data;
// a value of the wrong JSON type: 4021 naming the field; an unknown key:
// 4000 EXTRA_KEY_FOUND_IN_JSON naming it. A display name several users
// share cannot name a requester (4001): give the id or email_id. Creates
// answer 201, other successes 200.
//
// # Triggers, faults and introspection
//
// [Server.AddTrigger] installs a custom trigger whose webhook payload
// carries ${{request.status}}-style placeholders, replaced raw as SDP does;
// it fires on every matching edit, through the API or through the fake UI
// ([Server.SetStatus], [Server.Edit]), and its deliveries go over real HTTP
// ([Server.Deliveries], [Server.Wait]). [Server.AddFault] and
// [Server.AddDeliveryFault] inject faults, each counted
// ([Server.FaultCount]). [Server.Calls] and [Server.Requests] show what the
// server received and holds.
package sdptest
