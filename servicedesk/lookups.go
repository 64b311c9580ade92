package servicedesk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
)

// Page is one page of a list read: the rows and the list_info SDP
// returned with them.
type Page[T any] struct {
	Items    []*T
	ListInfo ListInfo
}

// LookupService reads one kind of lookup entity (priorities, statuses,
// sites, …): a page at a time with List, every row with All, one entity
// with Get. The client's lookup fields (c.Priorities, c.Statuses, …) are
// LookupServices; make them with NewClient, not by hand.
type LookupService[T any] struct {
	client *Client
	path   string // relative to the API base, for example "priorities"
	plural string // the list key of the answer, for example "priorities"
	single string // the entity key of a single read, for example "priority"
	what   string // the entity's name in errors, for example "priority"
}

func newLookup[T any](c *Client, path, plural, single string) *LookupService[T] {
	return &LookupService[T]{client: c, path: path, plural: plural, single: single, what: single}
}

// keyedAnswer decodes an answer whose entity sits under a key known only
// at run time: response_status and list_info into the envelope, the rows
// (or the single entity) from key.
type keyedAnswer[T any] struct {
	envelope
	key  string
	list bool
	rows []*T
	one  *T
}

func (a *keyedAnswer[T]) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if rs, ok := m["response_status"]; ok {
		if err := a.ResponseStatus.UnmarshalJSON(rs); err != nil {
			return err
		}
	}
	if li, ok := m["list_info"]; ok && !isNull(bytes.TrimSpace(li)) {
		a.ListInfo = new(ListInfo)
		if err := a.ListInfo.UnmarshalJSON(li); err != nil {
			return err
		}
	}
	v, ok := m[a.key]
	if !ok || isNull(bytes.TrimSpace(v)) {
		return nil
	}
	if a.list {
		if err := json.Unmarshal(v, &a.rows); err != nil {
			return fmt.Errorf("%s: %w", a.key, err)
		}
		return nil
	}
	a.one = new(T)
	if err := json.Unmarshal(v, a.one); err != nil {
		return fmt.Errorf("%s: %w", a.key, err)
	}
	return nil
}

// List reads one page. opts may be nil (SDP's default page: 10 rows).
func (s *LookupService[T]) List(ctx context.Context, opts *ListOptions) (*Page[T], error) {
	return listKeyed[T](ctx, s.client, s.path, s.plural, opts)
}

func listKeyed[T any](ctx context.Context, c *Client, path, key string, opts *ListOptions) (*Page[T], error) {
	q, err := listValues(opts)
	if err != nil {
		return nil, err
	}
	out := &keyedAnswer[T]{key: key, list: true}
	res, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q}, out)
	if err != nil {
		return nil, err
	}
	p := &Page[T]{Items: out.rows}
	if res.listInfo != nil {
		p.ListInfo = *res.listInfo
	}
	return p, nil
}

// All iterates over every row matching opts, page after page, as
// RequestsService.All does (100 rows per page unless opts says otherwise;
// opts is never changed). A failed page yields its error once and ends the
// iteration.
func (s *LookupService[T]) All(ctx context.Context, opts *ListOptions) iter.Seq2[*T, error] {
	return allPages(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[T], error) { return s.List(ctx, o) })
}

// allPages walks the pages that list returns, from opts.StartIndex (1 by
// default) in pages of opts.RowCount (100 by default), while SDP reports
// has_more_rows.
func allPages[T any](ctx context.Context, opts *ListOptions, list func(context.Context, *ListOptions) (*Page[T], error)) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		if o.RowCount == 0 {
			o.RowCount = MaxRowCount
		}
		if o.StartIndex == 0 {
			o.StartIndex = 1
		}
		for {
			page, err := list(ctx, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.Items {
				if !yield(r, nil) {
					return
				}
			}
			if !page.ListInfo.HasMoreRows {
				return
			}
			if len(page.Items) == 0 {
				yield(nil, fmt.Errorf("servicedesk: list from row %d: has_more_rows with an empty page", o.StartIndex))
				return
			}
			o.StartIndex += len(page.Items)
		}
	}
}

// Get reads the entity with this id.
func (s *LookupService[T]) Get(ctx context.Context, id ID) (*T, error) {
	if !validID(id) {
		return nil, fmt.Errorf("servicedesk: invalid %s id %q: want a non-empty string of digits", s.what, truncate(string(id), 40))
	}
	out := &keyedAnswer[T]{key: s.single}
	if _, err := s.client.do(ctx, call{method: http.MethodGet, path: s.path + "/" + string(id)}, out); err != nil {
		return nil, err
	}
	if out.one == nil {
		return nil, fmt.Errorf("servicedesk: answer has no %s: %w", s.single, ErrUnexpectedContent)
	}
	return out.one, nil
}

// Urgency is a request urgency.
type Urgency struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Impact is a request impact.
type Impact struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Category is a request category; its subcategories are read with
// CategoriesService.ListSubcategories.
type Category struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Subcategory is a subcategory of a Category.
type Subcategory struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Category    *Ref   `json:"category,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Item is an item of a Subcategory.
type Item struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Subcategory *Ref   `json:"subcategory,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Site is a site (location) of the organisation.
type Site struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// CategoriesService reads categories (c.Categories) and, below them,
// subcategories and items.
type CategoriesService struct {
	LookupService[Category]
}

// ListSubcategories reads one page of the subcategories of a category
// (GET /categories/{id}/subcategories).
func (s *CategoriesService) ListSubcategories(ctx context.Context, categoryID ID, opts *ListOptions) (*Page[Subcategory], error) {
	if !validID(categoryID) {
		return nil, fmt.Errorf("servicedesk: invalid category id %q: want a non-empty string of digits", truncate(string(categoryID), 40))
	}
	return listKeyed[Subcategory](ctx, s.client, "categories/"+string(categoryID)+"/subcategories", "subcategories", opts)
}

// AllSubcategories iterates over every subcategory of a category.
func (s *CategoriesService) AllSubcategories(ctx context.Context, categoryID ID, opts *ListOptions) iter.Seq2[*Subcategory, error] {
	return allPages(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[Subcategory], error) {
		return s.ListSubcategories(ctx, categoryID, o)
	})
}

// ListItems reads one page of the items of a subcategory (GET
// /subcategories/{id}/items). The reference establishes the subcategories
// path under a category but not this one; it follows the same pattern.
func (s *CategoriesService) ListItems(ctx context.Context, subcategoryID ID, opts *ListOptions) (*Page[Item], error) {
	if !validID(subcategoryID) {
		return nil, fmt.Errorf("servicedesk: invalid subcategory id %q: want a non-empty string of digits", truncate(string(subcategoryID), 40))
	}
	return listKeyed[Item](ctx, s.client, "subcategories/"+string(subcategoryID)+"/items", "items", opts)
}

// AllItems iterates over every item of a subcategory.
func (s *CategoriesService) AllItems(ctx context.Context, subcategoryID ID, opts *ListOptions) iter.Seq2[*Item, error] {
	return allPages(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[Item], error) {
		return s.ListItems(ctx, subcategoryID, o)
	})
}

// UDFField describes a user-defined field as /requests/_metainfo reports
// it. Depending on the build SDP names the type Type ("lookup",
// "boolean", "date", …) or FieldType ("Single Line", …); both are kept.
type UDFField struct {
	Key          string `json:"-"` // the key under udf_fields, for example udf_sline_301
	ID           ID     `json:"id,omitempty"`
	DisplayName  string `json:"display_name,omitempty"`
	Type         string `json:"type,omitempty"`
	FieldType    string `json:"field_type,omitempty"`
	LookupEntity string `json:"lookup_entity,omitempty"`
}

// Metainfo is the request metadata of GET /requests/_metainfo: Fields
// holds each field's description as SDP sent it (raw JSON, by field key);
// UDFs the user-defined fields decoded from fields.udf_fields.fields.
type Metainfo struct {
	Fields map[string]json.RawMessage
	UDFs   map[string]UDFField
}

type metainfoAnswer struct {
	envelope
	Metainfo *struct {
		Fields map[string]json.RawMessage `json:"fields"`
	} `json:"metainfo"`
}

// Metainfo reads the request fields' metadata (GET /requests/_metainfo).
func (s *RequestsService) Metainfo(ctx context.Context) (*Metainfo, error) {
	var out metainfoAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodGet, path: "requests/_metainfo"}, &out); err != nil {
		return nil, err
	}
	if out.Metainfo == nil {
		return nil, fmt.Errorf("servicedesk: answer has no metainfo: %w", ErrUnexpectedContent)
	}
	return decodeMetainfo(out.Metainfo.Fields)
}

func decodeMetainfo(fields map[string]json.RawMessage) (*Metainfo, error) {
	m := &Metainfo{Fields: fields, UDFs: map[string]UDFField{}}
	raw, ok := fields["udf_fields"]
	if !ok || isNull(bytes.TrimSpace(raw)) {
		return m, nil
	}
	var udf struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(raw, &udf); err != nil {
		return nil, fmt.Errorf("servicedesk: metainfo.fields.udf_fields: %w", err)
	}
	for k, v := range udf.Fields {
		var f UDFField
		if err := json.Unmarshal(v, &f); err != nil {
			return nil, fmt.Errorf("servicedesk: metainfo.fields.udf_fields.fields.%s: %w", k, err)
		}
		f.Key = k
		m.UDFs[k] = f
	}
	return m, nil
}
