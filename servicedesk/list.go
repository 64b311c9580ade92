package servicedesk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-querystring/query"
)

// MaxRowCount is the largest page SDP serves.
const MaxRowCount = 100

// SortOrder is the order of a sorted list.
type SortOrder string

// Sort orders.
const (
	Ascending  SortOrder = "asc"
	Descending SortOrder = "desc"
)

// Condition is a search_criteria condition, in SDP's long form.
type Condition string

// Conditions SDP documents for search_criteria.
const (
	Is             Condition = "is"
	IsNot          Condition = "is not"
	GreaterThan    Condition = "greater than"
	GreaterOrEqual Condition = "greater or equal"
	LesserThan     Condition = "lesser than"
	LesserOrEqual  Condition = "lesser or equal"
	Between        Condition = "between"
	NotBetween     Condition = "not between"
	StartsWith     Condition = "starts with"
	EndsWith       Condition = "ends with"
	Contains       Condition = "contains"
	NotContains    Condition = "not contains"
)

var conditions = map[Condition]bool{
	Is: true, IsNot: true, GreaterThan: true, GreaterOrEqual: true, LesserThan: true, LesserOrEqual: true,
	Between: true, NotBetween: true, StartsWith: true, EndsWith: true, Contains: true, NotContains: true,
	// Short forms SDP also accepts.
	"=": true, "eq": true, "!=": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true,
}

// LogicalOperator joins a criterion to the ones before it.
type LogicalOperator string

// Logical operators.
const (
	And LogicalOperator = "and"
	Or  LogicalOperator = "or"
)

// Criterion is one search_criteria entry: Field (dotted paths such as
// "status.name" allowed), Condition, and Value or Values (not both; date
// criteria compare epoch-millisecond strings). Children are combined with
// this criterion; every child but the first, and every criterion but the
// first of a list, carries a LogicalOperator.
type Criterion struct {
	Field           string          `json:"field"`
	Condition       Condition       `json:"condition"`
	Value           any             `json:"value,omitempty"`
	Values          []string        `json:"values,omitempty"`
	LogicalOperator LogicalOperator `json:"logical_operator,omitempty"`
	Children        []Criterion     `json:"children,omitempty"`
}

// ListOptions are the list_info of a list read. The zero value asks for
// SDP's defaults (10 rows from the first).
type ListOptions struct {
	RowCount       int               // rows per page, 1..100; 0 for the server default
	StartIndex     int               // 1-based first row; 0 for 1
	SortField      string            // field to sort by, for example "created_time"
	SortOrder      SortOrder         // Ascending or Descending; empty for the server default
	GetTotalCount  bool              // ask for ListInfo.TotalCount
	SearchFields   map[string]string // simple equality search, dotted keys allowed
	SearchCriteria []Criterion       // advanced search; one criterion is sent as an object
	FieldsRequired []string          // trim the rows to these fields
}

// Validate reports the first problem of the options, naming the field.
func (o *ListOptions) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.RowCount < 0 || o.RowCount > MaxRowCount:
		return fmt.Errorf("servicedesk: list_info.row_count %d: want 1..%d (0 for the default)", o.RowCount, MaxRowCount)
	case o.StartIndex < 0:
		return fmt.Errorf("servicedesk: list_info.start_index %d: want 1 or more (0 for the default)", o.StartIndex)
	case o.SortOrder != "" && o.SortOrder != Ascending && o.SortOrder != Descending:
		return fmt.Errorf("servicedesk: list_info.sort_order %q: want %q or %q", o.SortOrder, Ascending, Descending)
	case o.SortOrder != "" && o.SortField == "":
		return errors.New("servicedesk: list_info.sort_order given without sort_field")
	}
	for k := range o.SearchFields {
		if strings.TrimSpace(k) == "" {
			return errors.New("servicedesk: list_info.search_fields has an empty field name")
		}
	}
	for i, f := range o.FieldsRequired {
		if strings.TrimSpace(f) == "" {
			return fmt.Errorf("servicedesk: list_info.fields_required[%d] is empty", i)
		}
	}
	return checkCriteria("list_info.search_criteria", o.SearchCriteria)
}

func checkCriteria(path string, cs []Criterion) error {
	for i, c := range cs {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case strings.TrimSpace(c.Field) == "":
			return fmt.Errorf("servicedesk: %s.field is empty", p)
		case !conditions[Condition(strings.ToLower(string(c.Condition)))]:
			return fmt.Errorf("servicedesk: %s.condition %q is not an SDP condition", p, c.Condition)
		case c.Value != nil && len(c.Values) > 0:
			return fmt.Errorf("servicedesk: %s has both value and values", p)
		case c.Value == nil && len(c.Values) == 0:
			return fmt.Errorf("servicedesk: %s has neither value nor values", p)
		case i > 0 && c.LogicalOperator == "":
			return fmt.Errorf("servicedesk: %s.logical_operator is empty: want %q or %q after the first criterion", p, And, Or)
		case c.LogicalOperator != "" && c.LogicalOperator != And && c.LogicalOperator != Or:
			return fmt.Errorf("servicedesk: %s.logical_operator %q: want %q or %q", p, c.LogicalOperator, And, Or)
		}
		if cond := Condition(strings.ToLower(string(c.Condition))); (cond == Between || cond == NotBetween) && len(c.Values) != 2 {
			return fmt.Errorf("servicedesk: %s.condition %q takes exactly two values (from, to) in values, got %d", p, c.Condition, len(c.Values))
		}
		if c.Value != nil {
			if _, err := json.Marshal(c.Value); err != nil {
				return fmt.Errorf("servicedesk: %s.value does not encode as JSON: %w", p, err)
			}
		}
		if err := checkCriteria(p+".children", c.Children); err != nil {
			return err
		}
	}
	return nil
}

// listInfoParam renders list_info as the single input_data query
// parameter SDP reads on list calls; it is go-querystring's Encoder.
type listInfoParam struct{ opts *ListOptions }

type wireListInfo struct {
	RowCount       int               `json:"row_count,omitempty"`
	StartIndex     int               `json:"start_index,omitempty"`
	SortField      string            `json:"sort_field,omitempty"`
	SortOrder      SortOrder         `json:"sort_order,omitempty"`
	GetTotalCount  bool              `json:"get_total_count,omitempty"`
	SearchFields   map[string]string `json:"search_fields,omitempty"`
	SearchCriteria any               `json:"search_criteria,omitempty"`
	FieldsRequired []string          `json:"fields_required,omitempty"`
}

// EncodeValues implements query.Encoder.
func (p listInfoParam) EncodeValues(key string, v *url.Values) error {
	o := p.opts
	if o == nil {
		o = &ListOptions{}
	}
	w := wireListInfo{
		RowCount: o.RowCount, StartIndex: o.StartIndex, SortField: o.SortField, SortOrder: o.SortOrder,
		GetTotalCount: o.GetTotalCount, SearchFields: o.SearchFields, FieldsRequired: o.FieldsRequired,
	}
	switch len(o.SearchCriteria) {
	case 0:
	case 1:
		// One criterion as a bare object: an array of one was refused by
		// some cloud instances.
		w.SearchCriteria = o.SearchCriteria[0]
	default:
		w.SearchCriteria = o.SearchCriteria
	}
	js, err := marshalStrict(struct {
		ListInfo wireListInfo `json:"list_info"`
	}{w})
	if err != nil {
		return err
	}
	v.Set(key, string(js))
	return nil
}

// listQuery is the query of a list read.
type listQuery struct {
	InputData listInfoParam `url:"input_data"`
}

func listValues(o *ListOptions) (url.Values, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return query.Values(listQuery{InputData: listInfoParam{opts: o}})
}
