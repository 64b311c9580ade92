package servicedesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/vulndesk/mesd/servicedesk"
)

func TestTemplatesListFilters(t *testing.T) {
	t.Parallel()
	f := false
	tr := true
	for _, tc := range []struct {
		name string
		opts *servicedesk.TemplateListOptions
		want string // search_criteria as JSON, "" for none
	}{
		{"nil", nil, ""},
		{"any", &servicedesk.TemplateListOptions{}, ""},
		{"incident", &servicedesk.TemplateListOptions{Kind: servicedesk.IncidentTemplates},
			`{"condition":"is","field":"is_service_template","value":false}`},
		{"service active", &servicedesk.TemplateListOptions{Kind: servicedesk.ServiceTemplates, Inactive: &f},
			`[{"condition":"is","field":"is_service_template","value":true},{"condition":"is","field":"inactive","logical_operator":"and","value":false}]`},
		{"inactive after caller's criterion", &servicedesk.TemplateListOptions{Inactive: &tr, ListOptions: servicedesk.ListOptions{
			SearchCriteria: []servicedesk.Criterion{{Field: "name", Condition: servicedesk.StartsWith, Value: "Sec"}}}},
			`[{"condition":"starts with","field":"name","value":"Sec"},{"condition":"is","field":"inactive","logical_operator":"and","value":true}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mock := newMockClient(t)
			var got string
			mock.RegisterResponder("GET", apiURL+"request_templates", func(r *http.Request) (*http.Response, error) {
				if sc, ok := listInfo(t, r.URL)["search_criteria"]; ok {
					b, _ := json.Marshal(sc)
					got = string(b)
				}
				return sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"row_count":2},
					"request_templates":[{"id":"301","name":"Default Request","is_default":true,"inactive":false,"is_service_template":false},
					{"id":"302","name":"Laptop","is_service_template":true,"service_category":{"id":"9","name":"Hardware"},"inactive":true}]}`)(r)
			})
			var before []servicedesk.Criterion
			if tc.opts != nil {
				before = append(before, tc.opts.SearchCriteria...)
			}
			p, err := c.Templates.List(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("search_criteria = %s, want %s", got, tc.want)
			}
			if tc.opts != nil && !reflect.DeepEqual(tc.opts.SearchCriteria, before) && len(before) > 0 {
				t.Errorf("List changed the caller's criteria: %+v", tc.opts.SearchCriteria)
			}
			if len(p.Items) != 2 || !p.Items[0].IsDefault || p.Items[1].ServiceCategory.Name != "Hardware" || !p.Items[1].Inactive || !p.Items[1].IsServiceTemplate {
				t.Fatalf("templates = %+v %+v", p.Items[0], p.Items[1])
			}
		})
	}
	c, _ := newMockClient(t)
	if _, err := c.Templates.List(context.Background(), &servicedesk.TemplateListOptions{Kind: 7}); err == nil || !strings.Contains(err.Error(), "template kind 7") {
		t.Fatalf("bad kind: %v", err)
	}
	for _, err := range c.Templates.All(context.Background(), &servicedesk.TemplateListOptions{Kind: 7}) {
		if err == nil {
			t.Fatal("All with a bad kind yielded no error")
		}
	}
}

func TestTemplatesAllPages(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	var rows []string
	for i := range 130 {
		rows = append(rows, fmt.Sprintf(`{"id":"%d","name":"T%d"}`, 500+i, i))
	}
	mock.RegisterResponder("GET", apiURL+"request_templates", keyedPages(t, "request_templates", rows))
	n := 0
	for tpl, err := range c.Templates.All(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("T%d", n); tpl.Name != want {
			t.Fatalf("template %d = %s, want %s", n, tpl.Name, want)
		}
		n++
	}
	if n != 130 || calls(mock, "GET", "request_templates") != 2 {
		t.Fatalf("%d templates in %d calls", n, calls(mock, "GET", "request_templates"))
	}
}

const templateWithLayouts = `{"request_template":{"id":"301","name":"Security finding","is_default":false,
 "is_service_template":false,"is_customer_segmented":false,"inactive":false,"comments":"for scanners",
 "request":{"status":{"id":"2","name":"Open"},"subject":"[FRD]"},
 "layouts":[{"id":"71","help_text":[{"content":"fill"}],"sections":[{"id":"81","name":"Request Details","fields":[
   {"name":"subject","template_id":"301","default_value":[{"value":"[FRD]"}],"scopings":[{"scope":"requester","access":"editable"}]},
   {"name":"udf_fields.txt_cve","template_id":"301","scopings":[{"scope":"technician","access":"read_only"}],"mandatory":true,"display_order":3},
   {"name":"priority","default_value":[{"value":{"id":"4","name":"High"}}]}]}]},
  {"id":"72","sections":[{"id":"82","name":"Requester","fields":[{"name":"subject"},{"name":"description"}]}]}],
 "has_tasks":true,"has_checklists":false},
 "response_status":{"status_code":2000,"status":"success"}}`

func TestTemplateGetExposesLayoutsAsReturned(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"request_templates/301", sdpJSON(200, templateWithLayouts))
	tpl, err := c.Templates.Get(context.Background(), "301")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Name != "Security finding" || !tpl.HasTasks || tpl.Comments != "for scanners" || len(tpl.Layouts) != 2 {
		t.Fatalf("template = %+v", tpl)
	}
	var defaults struct {
		Status struct{ Name string } `json:"status"`
	}
	if err := json.Unmarshal(tpl.Request, &defaults); err != nil || defaults.Status.Name != "Open" {
		t.Fatalf("Request defaults %s: %v", tpl.Request, err)
	}
	if got := strings.Join(tpl.Fields(), ","); got != "subject,udf_fields.txt_cve,priority,description" {
		t.Fatalf("Fields() = %s", got)
	}
	f := tpl.Layouts[0].Sections[0].Fields
	if f[0].TemplateID != "301" || len(f[0].DefaultValue) != 1 || string(f[0].DefaultValue[0].Value) != `"[FRD]"` ||
		!reflect.DeepEqual(f[0].Scopings, []servicedesk.Scoping{{Scope: "requester", Access: "editable"}}) || f[0].Extra != nil {
		t.Fatalf("field 0 = %+v", f[0])
	}
	// Keys the client does not model are kept, raw, and relied on by nothing.
	if string(f[1].Extra["mandatory"]) != "true" || string(f[1].Extra["display_order"]) != "3" || len(f[1].Extra) != 2 {
		t.Fatalf("field 1 Extra = %v", f[1].Extra)
	}
	// Extra survives a round trip.
	b, err := json.Marshal(f[1])
	if err != nil {
		t.Fatal(err)
	}
	var back servicedesk.LayoutField
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, f[1]) {
		t.Fatalf("round trip %s = %+v, %v", b, back, err)
	}
	if _, err := c.Templates.Get(context.Background(), "3 01"); err == nil || !strings.Contains(err.Error(), "invalid template id") {
		t.Fatalf("bad id: %v", err)
	}
}

func TestTemplateLayouts(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"request_templates/301/layouts", sdpJSON(200,
		`{"layouts":[{"id":"71","sections":[{"id":"81","name":"Details","fields":[{"name":"subject"},{"name":"udf_fields.udf_sline_301","template_id":"301"}]}]}],
		  "response_status":{"status_code":2000,"status":"success"}}`))
	ls, err := c.Templates.Layouts(context.Background(), "301")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Sections[0].Name != "Details" || ls[0].Sections[0].Fields[1].Name != "udf_fields.udf_sline_301" {
		t.Fatalf("layouts = %+v", ls)
	}
	mock.RegisterResponder("GET", apiURL+"request_templates/302/layouts", sdpJSON(401, failed(4022, "scope")))
	if _, err := c.Templates.Layouts(context.Background(), "302"); !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("error %v", err)
	}
}

func mandatoryAnswer() string {
	b, _ := json.Marshal(map[string]any{"response_status": map[string]any{
		"status_code": 4000, "status": "failed",
		"messages": []any{
			map[string]any{"status_code": 4012, "type": "failed", "fields": []string{"udf_fields.txt_cve", "category"}},
			map[string]any{"status_code": 4012, "type": "failed", "field": "subcategory"},
			map[string]any{"status_code": 4001, "type": "failed", "field": "level"},
		},
	}})
	return string(b)
}

func TestMandatoryFieldsFrom4012(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("POST", apiURL+"requests", sdpJSON(400, mandatoryAnswer()))
	_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "s", Template: &servicedesk.TemplateRef{ID: "301"}})
	if !errors.Is(err, servicedesk.ErrMandatoryField) {
		t.Fatalf("error %v", err)
	}
	want := []string{"udf_fields.txt_cve", "category", "subcategory"} // not level: that is a 4001
	if got := servicedesk.MandatoryFields(err); !reflect.DeepEqual(got, want) {
		t.Fatalf("MandatoryFields = %q, want %q", got, want)
	}
	if got := servicedesk.MandatoryFields(fmt.Errorf("wrapped: %w", err)); !reflect.DeepEqual(got, want) {
		t.Fatalf("MandatoryFields(wrapped) = %q", got)
	}
	if servicedesk.MandatoryFields(errors.New("x")) != nil || servicedesk.MandatoryFields(nil) != nil {
		t.Fatal("MandatoryFields of a non-4012 error is not nil")
	}

	var cache servicedesk.MandatoryFieldCache
	if got := cache.Learn("301", err); !reflect.DeepEqual(got, want) {
		t.Fatalf("Learn = %q", got)
	}
	if got := cache.Learn("301", err); got != nil {
		t.Fatalf("second Learn added %q", got)
	}
	if got := cache.Missing("301", []string{"category", "subcategory"}); !reflect.DeepEqual(got, []string{"udf_fields.txt_cve"}) {
		t.Fatalf("Missing = %q", got)
	}
	if cache.Fields("302") != nil {
		t.Fatal("another template has fields")
	}
	fs := cache.Fields("301")
	fs[0] = "changed"
	if cache.Fields("301")[0] != "udf_fields.txt_cve" {
		t.Fatal("Fields returned the cache's own slice")
	}
	cache.Forget("301")
	if cache.Fields("301") != nil {
		t.Fatal("Forget kept the fields")
	}
}

func TestMandatoryFieldCacheConcurrent(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("POST", apiURL+"requests", sdpJSON(400, mandatoryAnswer()))
	_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "s"})
	var cache servicedesk.MandatoryFieldCache
	var wg sync.WaitGroup
	added := make([][]string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tpl := servicedesk.ID(fmt.Sprint(300 + i%4))
			added[i] = cache.Learn(tpl, err)
			_ = cache.Fields(tpl)
			_ = cache.Missing(tpl, nil)
		}()
	}
	wg.Wait()
	total := 0
	for _, a := range added {
		total += len(a)
	}
	if total != 4*3 {
		t.Fatalf("fields added %d times, want each of 3 fields once per each of 4 templates", total)
	}
}
