package servicedesk_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
)

// TestLookupsDecodeRecordedEntities serves the lookup objects embedded in
// the recorded requests (statuses, priorities, templates, groups, users)
// as lookup lists, through the whole client, and checks every decoded
// value against the file. No recording of a lookup list itself exists;
// the entity shapes are the recorded ones.
func TestLookupsDecodeRecordedEntities(t *testing.T) {
	t.Parallel()
	root := testutil.Fixture(t, "servicedesk")
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.json"))
	objs := map[string][]map[string]any{}
	for _, f := range files {
		var raw struct {
			Request  map[string]any   `json:"request"`
			Requests []map[string]any `json:"requests"`
		}
		rel, _ := filepath.Rel(root, f)
		if json.Unmarshal(testutil.ReadFixture(t, "servicedesk", filepath.ToSlash(rel)), &raw) != nil {
			continue
		}
		rows := raw.Requests
		if raw.Request != nil {
			rows = append(rows, raw.Request)
		}
		for _, r := range rows {
			for _, key := range []string{"status", "priority", "template", "group", "requester", "technician", "created_by"} {
				if o, ok := r[key].(map[string]any); ok {
					objs[key] = append(objs[key], o)
				}
			}
		}
	}
	users := append(append(objs["requester"], objs["technician"]...), objs["created_by"]...)
	if len(objs["status"]) == 0 || len(objs["priority"]) == 0 || len(objs["template"]) == 0 || len(users) == 0 {
		t.Fatalf("too few recorded entities: %d statuses, %d priorities, %d templates, %d users",
			len(objs["status"]), len(objs["priority"]), len(objs["template"]), len(users))
	}
	serve := func(t *testing.T, path, key string, rows []map[string]any) *servicedesk.Client {
		t.Helper()
		body, _ := json.Marshal(map[string]any{
			"response_status": []any{map[string]any{"status_code": 2000, "status": "success"}},
			"list_info":       map[string]any{"has_more_rows": false, "row_count": len(rows)},
			key:               rows,
		})
		c, mock := newMockClient(t)
		mock.RegisterResponder("GET", apiURL+path, sdpJSON(200, string(body)))
		return c
	}
	ctx := context.Background()
	eq := func(t *testing.T, what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, file has %#v", what, got, want)
		}
	}
	t.Run("statuses", func(t *testing.T) {
		p, err := serve(t, "statuses", "statuses", objs["status"]).Statuses.List(ctx, nil)
		if err != nil || len(p.Items) != len(objs["status"]) {
			t.Fatalf("List: %v", err)
		}
		for i, o := range objs["status"] {
			s := p.Items[i]
			eq(t, "id", string(s.ID), str(o, "id"))
			eq(t, "name", s.Name, str(o, "name"))
			eq(t, "color", s.Color, str(o, "color"))
			eq(t, "internal_name", s.InternalName, str(o, "internal_name"))
			eq(t, "in_progress", s.InProgress, o["in_progress"] == true)
			eq(t, "stop_timer", s.StopTimer, o["stop_timer"] == true)
		}
	})
	t.Run("priorities", func(t *testing.T) {
		p, err := serve(t, "priorities", "priorities", objs["priority"]).Priorities.List(ctx, nil)
		if err != nil || len(p.Items) != len(objs["priority"]) {
			t.Fatalf("List: %v", err)
		}
		for i, o := range objs["priority"] {
			eq(t, "priority", [3]string{string(p.Items[i].ID), p.Items[i].Name, p.Items[i].Color}, [3]string{str(o, "id"), str(o, "name"), str(o, "color")})
		}
	})
	t.Run("templates", func(t *testing.T) {
		p, err := serve(t, "request_templates", "request_templates", objs["template"]).Templates.List(ctx, nil)
		if err != nil || len(p.Items) != len(objs["template"]) {
			t.Fatalf("List: %v", err)
		}
		for i, o := range objs["template"] {
			tp := p.Items[i]
			eq(t, "template", [2]string{string(tp.ID), tp.Name}, [2]string{str(o, "id"), str(o, "name")})
			eq(t, "is_service_template", tp.IsServiceTemplate, o["is_service_template"] == true)
		}
	})
	t.Run("groups", func(t *testing.T) {
		if len(objs["group"]) == 0 {
			t.Fatal("no recorded group")
		}
		p, err := serve(t, "support_groups", "support_groups", objs["group"]).Groups.List(ctx, nil)
		if err != nil || len(p.Items) != len(objs["group"]) {
			t.Fatalf("List: %v", err)
		}
		for i, o := range objs["group"] {
			g := p.Items[i]
			eq(t, "group", [2]string{string(g.ID), g.Name}, [2]string{str(o, "id"), str(o, "name")})
			eq(t, "deleted", g.Deleted, o["deleted"] == true)
		}
	})
	t.Run("users", func(t *testing.T) {
		p, err := serve(t, "users", "users", users).Users.List(ctx, nil)
		if err != nil || len(p.Items) != len(users) {
			t.Fatalf("List: %v", err)
		}
		for i, o := range users {
			u := p.Items[i]
			eq(t, "user", []string{string(u.ID), u.Name, u.EmailID, u.Phone, u.Mobile, u.LoginName, u.FirstName, u.LastName},
				[]string{str(o, "id"), str(o, "name"), str(o, "email_id"), str(o, "phone"), str(o, "mobile"), str(o, "login_name"), str(o, "first_name"), str(o, "last_name")})
			eq(t, "vip", u.IsVIPUser, o["is_vipuser"] == true || o["is_vip_user"] == true)
			eq(t, "is_technician", u.IsTechnician, o["is_technician"] == true)
			if d, ok := o["department"].(map[string]any); ok {
				eq(t, "department", u.Department != nil && string(u.Department.ID) == str(d, "id") && u.Department.Name == str(d, "name"), true)
			}
		}
	})
}
