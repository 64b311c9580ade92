package servicedesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/servicedesk"
)

// keyedPages serves rows (JSON objects) under key, honouring start_index
// and row_count from list_info, with response_status as an array.
func keyedPages(t *testing.T, key string, rows []string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		li := listInfo(t, r.URL)
		start, _ := li["start_index"].(float64)
		count, _ := li["row_count"].(float64)
		if start == 0 {
			start = 1
		}
		if count == 0 {
			count = 10
		}
		var page []string
		for i := int(start); i < int(start+count) && i <= len(rows); i++ {
			page = append(page, rows[i-1])
		}
		more := int(start+count) <= len(rows)
		return sdpJSON(200, fmt.Sprintf(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":%t,"start_index":%d,"row_count":"%d"},%q:[%s]}`,
			more, int(start), len(page), key, strings.Join(page, ",")))(r)
	}
}

// entity is the id and name of any lookup row, read back through JSON so
// that one table covers every lookup type.
type entity struct{ ID, Name string }

type lookupFns struct {
	list func(*servicedesk.ListOptions) ([]entity, error)
	all  func() ([]entity, error)
	get  func(servicedesk.ID) (entity, error)
}

func fnsOf[T any](s *servicedesk.LookupService[T]) lookupFns {
	ctx := context.Background()
	return lookupFns{
		list: func(o *servicedesk.ListOptions) ([]entity, error) {
			p, err := s.List(ctx, o)
			if err != nil {
				return nil, err
			}
			return idNames(p.Items)
		},
		all: func() ([]entity, error) {
			var rows []*T
			for v, err := range s.All(ctx, nil) {
				if err != nil {
					return nil, err
				}
				rows = append(rows, v)
			}
			return idNames(rows)
		},
		get: func(id servicedesk.ID) (entity, error) {
			v, err := s.Get(ctx, id)
			if err != nil {
				return entity{}, err
			}
			rows, err := idNames([]*T{v})
			if err != nil {
				return entity{}, err
			}
			return rows[0], nil
		},
	}
}

func idNames(rows any) ([]entity, error) {
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	var out []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	res := make([]entity, len(out))
	for i, o := range out {
		res[i] = entity{o.ID, o.Name}
	}
	return res, nil
}

func TestLookupsListAllAndGet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path, plural, single string
		fns                        func(*servicedesk.Client) lookupFns
	}{
		{"Priorities", "priorities", "priorities", "priority", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Priorities) }},
		{"Statuses", "statuses", "statuses", "status", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Statuses) }},
		{"Urgencies", "urgencies", "urgencies", "urgency", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Urgencies) }},
		{"Impacts", "impacts", "impacts", "impact", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Impacts) }},
		{"Categories", "categories", "categories", "category", func(c *servicedesk.Client) lookupFns { return fnsOf(&c.Categories.LookupService) }},
		{"Groups", "support_groups", "support_groups", "support_group", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Groups) }},
		{"Technicians", "technicians", "technicians", "technician", func(c *servicedesk.Client) lookupFns { return fnsOf(&c.Technicians.LookupService) }},
		{"Users", "users", "users", "user", func(c *servicedesk.Client) lookupFns { return fnsOf(&c.Users.LookupService) }},
		{"Sites", "sites", "sites", "site", func(c *servicedesk.Client) lookupFns { return fnsOf(c.Sites) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mock := newMockClient(t)
			fns := tc.fns(c)
			var rows []string
			for i := 1; i <= 205; i++ {
				rows = append(rows, fmt.Sprintf(`{"id":"%d","name":"%s %d"}`, 9000+i, tc.single, i))
			}
			mock.RegisterResponder("GET", apiURL+tc.path, keyedPages(t, tc.plural, rows))
			mock.RegisterResponder("GET", apiURL+tc.path+"/9007", sdpJSON(200,
				fmt.Sprintf(`{"response_status":{"status_code":2000,"status":"success"},%q:{"id":"9007","name":"%s 7"}}`, tc.single, tc.single)))
			mock.RegisterResponder("GET", apiURL+tc.path+"/404", sdpJSON(404, failed(4007, "Invalid URL")))

			page, err := fns.list(&servicedesk.ListOptions{RowCount: 5, StartIndex: 3})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(page) != 5 || page[0] != (entity{"9003", tc.single + " 3"}) || page[4].ID != "9007" {
				t.Fatalf("List = %+v, want rows 3..7", page)
			}
			all, err := fns.all()
			if err != nil {
				t.Fatalf("All: %v", err)
			}
			if len(all) != 205 || all[204].ID != "9205" || all[100].ID != "9101" {
				t.Fatalf("All yielded %d rows (last %+v), want 205", len(all), all[len(all)-1])
			}
			// 1 List call, then pages of 100: 1..100, 101..200, 201..205.
			if n := calls(mock, "GET", tc.path); n != 4 {
				t.Errorf("list calls = %d, want 4", n)
			}
			one, err := fns.get("9007")
			if err != nil || one != (entity{"9007", tc.single + " 7"}) {
				t.Fatalf("Get = %+v, %v", one, err)
			}
			if _, err := fns.get("404"); !errors.Is(err, servicedesk.ErrNotFound) {
				t.Fatalf("Get(404) error %v, want ErrNotFound", err)
			}
			if _, err := fns.get("../users"); err == nil || !strings.Contains(err.Error(), "invalid "+tc.single+" id") {
				t.Fatalf("Get(../users) error %v, want an invalid id error", err)
			}
		})
	}
}

func TestStatusLookupDecodesFlags(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"statuses", sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"row_count":2},
		"statuses":[{"id":"1","name":"Open","color":"#0066ff","in_progress":true,"internal_name":"Open","stop_timer":false},
		            {"id":"3","name":"On Hold","in_progress":true,"internal_name":"Onhold","stop_timer":true}]}`))
	p, err := c.Statuses.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []servicedesk.Status{
		{ID: "1", Name: "Open", Color: "#0066ff", InProgress: true, InternalName: "Open"},
		{ID: "3", Name: "On Hold", InProgress: true, InternalName: "Onhold", StopTimer: true},
	}
	if len(p.Items) != 2 || *p.Items[0] != want[0] || *p.Items[1] != want[1] {
		t.Fatalf("statuses = %+v %+v, want %+v", p.Items[0], p.Items[1], want)
	}
	if p.ListInfo.RowCount != 2 || p.ListInfo.HasMoreRows {
		t.Fatalf("list_info = %+v", p.ListInfo)
	}
}

func TestCategoriesSubcategoriesItems(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"categories/11/subcategories", keyedPages(t, "subcategories", []string{
		`{"id":"21","name":"Web","category":{"id":"11","name":"Security"}}`,
		`{"id":"22","name":"Network","category":{"id":"11","name":"Security"}}`,
	}))
	mock.RegisterResponder("GET", apiURL+"subcategories/21/items", keyedPages(t, "items", []string{
		`{"id":"31","name":"XSS","subcategory":{"id":"21","name":"Web"}}`,
	}))
	var subs []*servicedesk.Subcategory
	for s, err := range c.Categories.AllSubcategories(context.Background(), "11", nil) {
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if len(subs) != 2 || subs[1].Name != "Network" || subs[0].Category == nil || subs[0].Category.ID != "11" {
		t.Fatalf("subcategories = %+v", subs)
	}
	items, err := c.Categories.ListItems(context.Background(), subs[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Items) != 1 || items.Items[0].Name != "XSS" || items.Items[0].Subcategory.Name != "Web" {
		t.Fatalf("items = %+v", items.Items)
	}
	for s, err := range c.Categories.AllItems(context.Background(), "21", nil) {
		if err != nil || s.ID != "31" {
			t.Fatalf("AllItems: %+v, %v", s, err)
		}
	}
	if _, err := c.Categories.ListSubcategories(context.Background(), "x/1", nil); err == nil || !strings.Contains(err.Error(), "invalid category id") {
		t.Fatalf("bad category id: %v", err)
	}
	if _, err := c.Categories.ListItems(context.Background(), "", nil); err == nil || !strings.Contains(err.Error(), "invalid subcategory id") {
		t.Fatalf("bad subcategory id: %v", err)
	}
}

func TestLookupListOptionsAreValidated(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	_, err := c.Priorities.List(context.Background(), &servicedesk.ListOptions{RowCount: 101})
	if err == nil || !strings.Contains(err.Error(), "row_count 101") {
		t.Fatalf("error %v, want a row_count error", err)
	}
}

func TestLookupFailureInside200(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"sites", sdpJSON(200, failed(4002, "User does not have this permission")))
	_, err := c.Sites.List(context.Background(), nil)
	if !errors.Is(err, servicedesk.ErrForbidden) {
		t.Fatalf("error %v, want ErrForbidden", err)
	}
	mock.RegisterResponder("GET", apiURL+"sites/5", sdpJSON(200, `{"response_status":{"status_code":2000,"status":"success"}}`))
	if _, err := c.Sites.Get(context.Background(), "5"); !errors.Is(err, servicedesk.ErrUnexpectedContent) {
		t.Fatalf("Get without entity: %v, want ErrUnexpectedContent", err)
	}
}

func TestMetainfo(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/_metainfo", sdpJSON(200, `{"metainfo":{"fields":{
		"subject":{"display_name":"Subject","type":"string"},
		"udf_fields":{"fields":{
			"udf_sline_301":{"id":"301","display_name":"CVE","field_type":"Single Line"},
			"udf_pick_5":{"id":5,"display_name":"Scanner","type":"lookup","lookup_entity":"scanner"}}}}},
		"response_status":{"status_code":2000,"status":"success"}}`))
	m, err := c.Requests.Metainfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Fields["subject"]; !ok {
		t.Errorf("Fields lacks subject: %v", m.Fields)
	}
	want := map[string]servicedesk.UDFField{
		"udf_sline_301": {Key: "udf_sline_301", ID: "301", DisplayName: "CVE", FieldType: "Single Line"},
		"udf_pick_5":    {Key: "udf_pick_5", ID: "5", DisplayName: "Scanner", Type: "lookup", LookupEntity: "scanner"},
	}
	if len(m.UDFs) != 2 || m.UDFs["udf_sline_301"] != want["udf_sline_301"] || m.UDFs["udf_pick_5"] != want["udf_pick_5"] {
		t.Fatalf("UDFs = %+v", m.UDFs)
	}
	mock.RegisterResponder("GET", apiURL+"requests/_metainfo", sdpJSON(200, `{"response_status":{"status_code":2000,"status":"success"}}`))
	if _, err := c.Requests.Metainfo(context.Background()); !errors.Is(err, servicedesk.ErrUnexpectedContent) {
		t.Fatalf("missing metainfo: %v", err)
	}
}
