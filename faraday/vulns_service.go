package faraday

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"

	"github.com/google/go-querystring/query"
)

// VulnsService reads and updates the vulnerabilities of a workspace. Use it
// through Client.Vulns.
type VulnsService struct {
	client *Client
}

// SortDirection orders a list.
type SortDirection string

// The two directions.
const (
	SortAsc  SortDirection = "asc"
	SortDesc SortDirection = "desc"
)

// ListVulnsOptions are the filters, paging and sort of GET
// /_api/v3/ws/{ws}/vulns. Zero values are left out. Confirmed, Severity,
// Status, Type and ServiceID match exactly; Target, Hostname, Service,
// Creator and Name match as case-insensitive substrings (the server's
// ILIKE); Search looks in name and description.
type ListVulnsOptions struct {
	Confirmed *bool
	Severity  Severity // sent in the API's form (med, info, …)
	Status    Status
	Type      VulnType
	Target    string
	Hostname  string
	Service   string
	ServiceID int64
	Creator   string
	Name      string
	Search    string

	// Page (from 1) and PageSize page the list; the server pages only when
	// PageSize is given. Page 0 means the first page.
	Page     int
	PageSize int

	// Sort names the field to sort by (such as "id", "severity", "date");
	// SortDir its direction. Without Sort the server orders by confirmed
	// (descending), severity and creation date.
	Sort    string
	SortDir SortDirection
}

// listQuery is the query string of a list call, encoded by go-querystring.
type listQuery struct {
	Confirmed *bool  `url:"confirmed,omitempty"`
	Severity  string `url:"severity,omitempty"`
	Status    string `url:"status,omitempty"`
	Type      string `url:"type,omitempty"`
	Target    string `url:"target,omitempty"`
	Hostnames string `url:"hostnames,omitempty"`
	Service   string `url:"service,omitempty"`
	ServiceID int64  `url:"service_id,omitempty"`
	Creator   string `url:"creator,omitempty"`
	Name      string `url:"name,omitempty"`
	Search    string `url:"search,omitempty"`
	Page      int    `url:"page,omitempty"`
	PageSize  int    `url:"page_size,omitempty"`
	Sort      string `url:"sort,omitempty"`
	SortDir   string `url:"sort_dir,omitempty"`
}

func (o *ListVulnsOptions) values() (url.Values, error) {
	if o == nil {
		return nil, nil
	}
	q := listQuery{
		Confirmed: o.Confirmed, Type: string(o.Type), Target: o.Target, Hostnames: o.Hostname,
		Service: o.Service, ServiceID: o.ServiceID, Creator: o.Creator, Name: o.Name, Search: o.Search,
		Page: o.Page, PageSize: o.PageSize, Sort: o.Sort, SortDir: string(o.SortDir),
	}
	switch {
	case o.Severity != 0 && !o.Severity.Valid():
		return nil, fmt.Errorf("%w: ListVulnsOptions.Severity %d is not a severity", ErrInvalidOption, o.Severity)
	case o.Status != 0 && !o.Status.Valid():
		return nil, fmt.Errorf("%w: ListVulnsOptions.Status %d is not a status", ErrInvalidOption, o.Status)
	case o.Type != "" && o.Type != TypeVulnerability && o.Type != TypeVulnerabilityWeb:
		return nil, fmt.Errorf("%w: ListVulnsOptions.Type %q: want Vulnerability or VulnerabilityWeb", ErrInvalidOption, o.Type)
	case o.Page < 0 || o.PageSize < 0 || o.ServiceID < 0:
		return nil, fmt.Errorf("%w: ListVulnsOptions: negative Page, PageSize or ServiceID", ErrInvalidOption)
	case o.Page > 0 && o.PageSize == 0:
		return nil, fmt.Errorf("%w: ListVulnsOptions.Page needs PageSize (the server pages only with page_size)", ErrInvalidOption)
	case o.SortDir != "" && o.SortDir != SortAsc && o.SortDir != SortDesc:
		return nil, fmt.Errorf("%w: ListVulnsOptions.SortDir %q: want asc or desc", ErrInvalidOption, o.SortDir)
	case o.SortDir != "" && o.Sort == "":
		return nil, fmt.Errorf("%w: ListVulnsOptions.SortDir without Sort", ErrInvalidOption)
	}
	if o.Severity != 0 {
		q.Severity = o.Severity.APIName()
	}
	if o.Status != 0 {
		q.Status = o.Status.String()
	}
	return query.Values(q)
}

// VulnPage is one answer of the list or filter endpoints: the vulns of the
// page and Count, the total number of matches.
type VulnPage struct {
	Vulns []Vuln
	Count int
}

func pageOf(l *VulnList) *VulnPage {
	return &VulnPage{Vulns: l.Vulns(), Count: l.Count}
}

// List returns the vulns of workspace ws that match opts (nil for all), in
// one call: GET /_api/v3/ws/{ws}/vulns. The vulns carry every field,
// description and HTTP request/response included.
func (s *VulnsService) List(ctx context.Context, ws string, opts *ListVulnsOptions) (*VulnPage, error) {
	seg, err := workspaceSegment(ws)
	if err != nil {
		return nil, err
	}
	q, err := opts.values()
	if err != nil {
		return nil, err
	}
	var l VulnList
	if err := s.client.do(ctx, call{method: "GET", path: "ws/" + seg + "/vulns", query: q, idempotent: true}, &l); err != nil {
		return nil, err
	}
	return pageOf(&l), nil
}

// DefaultPageSize is the page size All uses when opts has none.
const DefaultPageSize = 100

// All returns an iterator over every vuln of ws matching opts, fetching
// page after page (from opts.Page, with opts.PageSize or DefaultPageSize).
// opts is copied, never modified. The iterator stops at the first error,
// which it yields; it stops early when the loop breaks. Vulns created or
// deleted while iterating can shift pages: the server pages by offset.
func (s *VulnsService) All(ctx context.Context, ws string, opts *ListVulnsOptions) iter.Seq2[*Vuln, error] {
	var o ListVulnsOptions
	if opts != nil {
		o = *opts
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Page == 0 {
		o.Page = 1
	}
	return func(yield func(*Vuln, error) bool) {
		seen := 0
		for {
			page, err := s.List(ctx, ws, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Vulns {
				if !yield(&page.Vulns[i], nil) {
					return
				}
			}
			seen += len(page.Vulns)
			// Stop on a short page, when the total is reached, or when the
			// server did not page at all (more than a page came back).
			if len(page.Vulns) != o.PageSize || (page.Count > 0 && seen >= page.Count) {
				return
			}
			o.Page++
		}
	}
}

// Filter is one condition of the JSON filter language: either Name, Op and
// Val ({"name": "severity", "op": "eq", "val": "high"}), or a group in And
// or Or. Values go to the database as they are: severities use the stored
// names ("medium", "informational"), not the API's short forms.
type Filter struct {
	Name string
	Op   string // ==, eq, !=, neq, <, >, <=, >=, like, ilike, in, not_in, is_null, is_not_null, has, any, not_any, range
	Val  any
	And  []Filter
	Or   []Filter
}

// MarshalJSON writes the condition or the group, refusing a Filter that is
// both or neither.
func (f Filter) MarshalJSON() ([]byte, error) {
	groups := 0
	if f.And != nil {
		groups++
	}
	if f.Or != nil {
		groups++
	}
	switch {
	case groups == 0 && f.Name != "" && f.Op != "":
		if f.Val == nil && f.Op != "is_null" && f.Op != "is_not_null" {
			return json.Marshal(struct {
				Name string `json:"name"`
				Op   string `json:"op"`
				Val  any    `json:"val"`
			}{f.Name, f.Op, f.Val})
		}
		return json.Marshal(struct {
			Name string `json:"name"`
			Op   string `json:"op"`
			Val  any    `json:"val,omitempty"`
		}{f.Name, f.Op, f.Val})
	case groups == 1 && f.Name == "" && f.Op == "" && f.Val == nil:
		if f.And != nil {
			return json.Marshal(struct {
				And []Filter `json:"and"`
			}{f.And})
		}
		return json.Marshal(struct {
			Or []Filter `json:"or"`
		}{f.Or})
	}
	return nil, fmt.Errorf("%w: a Filter is either Name+Op(+Val) or one And/Or group (name %q, op %q)", ErrInvalidOption, f.Name, f.Op)
}

// Order is one entry of FilterQuery.OrderBy.
type Order struct {
	Field     string        `json:"field"`
	Direction SortDirection `json:"direction"`
}

// FilterQuery is the q parameter of the filter endpoint.
type FilterQuery struct {
	Filters []Filter `json:"filters"`
	OrderBy []Order  `json:"order_by,omitempty"`
	Limit   int      `json:"limit,omitempty"`
	Offset  int      `json:"offset,omitempty"`
}

// Filter runs a JSON filter query on workspace ws: GET
// /_api/v3/ws/{ws}/vulns/filter?q=<json>. Count is the number of matches
// before Limit and Offset.
//
// The server leaves text fields out of filter answers: the vulns come back
// without description (Desc and Description), data, resolution, refs,
// policyviolations, request, response and attachments. Fetch a vuln with
// Get, or use List, when those are needed.
func (s *VulnsService) Filter(ctx context.Context, ws string, q FilterQuery) (*VulnPage, error) {
	seg, err := workspaceSegment(ws)
	if err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("%w: FilterQuery: negative Limit or Offset", ErrInvalidOption)
	}
	for i, o := range q.OrderBy {
		if o.Field == "" || (o.Direction != SortAsc && o.Direction != SortDesc) {
			return nil, fmt.Errorf("%w: FilterQuery.OrderBy[%d]: want a field and asc or desc", ErrInvalidOption, i)
		}
	}
	if q.Filters == nil {
		q.Filters = []Filter{}
	}
	text, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var l VulnList
	cl := call{method: "GET", path: "ws/" + seg + "/vulns/filter", query: url.Values{"q": {string(text)}}, idempotent: true}
	if err := s.client.do(ctx, cl, &l); err != nil {
		return nil, err
	}
	return pageOf(&l), nil
}

// Get returns one vuln of workspace ws: GET /_api/v3/ws/{ws}/vulns/{id}. A
// vuln of another workspace, or none, fails with ErrNotFound.
func (s *VulnsService) Get(ctx context.Context, ws string, id int64) (*Vuln, error) {
	p, err := vulnPath(ws, id)
	if err != nil {
		return nil, err
	}
	var v Vuln
	if err := s.client.do(ctx, call{method: "GET", path: p, idempotent: true}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func vulnPath(ws string, id int64) (string, error) {
	seg, err := workspaceSegment(ws)
	if err != nil {
		return "", err
	}
	if id <= 0 {
		return "", fmt.Errorf("%w: vuln id %d: want a positive id", ErrInvalidOption, id)
	}
	return "ws/" + seg + "/vulns/" + strconv.FormatInt(id, 10), nil
}

// UpdateStatus sets the status of one vuln and returns the vuln as the
// server now has it: PATCH /_api/v3/ws/{ws}/vulns/{id} with {"status": …}.
// Setting a value is idempotent, so the call is retried like a GET. A
// read-only workspace fails with ErrReadOnlyWorkspace.
func (s *VulnsService) UpdateStatus(ctx context.Context, ws string, id int64, status Status) (*Vuln, error) {
	p, err := vulnPath(ws, id)
	if err != nil {
		return nil, err
	}
	if !status.Valid() {
		return nil, fmt.Errorf("%w: status %d is not a status", ErrInvalidOption, status)
	}
	body := struct {
		Status Status `json:"status"`
	}{status}
	var v Vuln
	if err := s.client.do(ctx, call{method: "PATCH", path: p, body: body, idempotent: true}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// BulkUpdateStatus sets the status of several vulns of ws in one call and
// returns how many the server updated: PATCH /_api/v3/ws/{ws}/vulns with
// {"ids": [1, 2], "status": …}. Ids travel as JSON integers (the server
// silently drops any other form). Ids of other workspaces are not counted.
// A read-only workspace fails with ErrReadOnlyWorkspace.
func (s *VulnsService) BulkUpdateStatus(ctx context.Context, ws string, ids []int64, status Status) (int, error) {
	seg, err := workspaceSegment(ws)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("%w: BulkUpdateStatus: no ids", ErrInvalidOption)
	}
	for i, id := range ids {
		if id <= 0 {
			return 0, fmt.Errorf("%w: BulkUpdateStatus: ids[%d] = %d: want positive ids", ErrInvalidOption, i, id)
		}
	}
	if !status.Valid() {
		return 0, fmt.Errorf("%w: status %d is not a status", ErrInvalidOption, status)
	}
	body := struct {
		IDs    []int64 `json:"ids"`
		Status Status  `json:"status"`
	}{ids, status}
	var out struct {
		Updated *int `json:"updated"`
	}
	if err := s.client.do(ctx, call{method: "PATCH", path: "ws/" + seg + "/vulns", body: body, idempotent: true}, &out); err != nil {
		return 0, err
	}
	if out.Updated == nil {
		return 0, &Error{Method: "PATCH", URL: s.client.api.String() + "ws/" + seg + "/vulns", StatusCode: 200,
			Err: fmt.Errorf("%w: no \"updated\" count in the answer", ErrUnexpectedResponse)}
	}
	return *out.Updated, nil
}
