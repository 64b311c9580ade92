package sdptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Lists: list_info in input_data, search, sort and paging.

const (
	defaultRowCount = 10
	maxRowCount     = 100
)

type listInfo struct {
	rowCount      int
	startIndex    int
	sortField     string
	sortOrder     string
	getTotal      bool
	searchFields  map[string]string
	criteria      []criterion
	rawCriteria   json.RawMessage
	rawFields     json.RawMessage
	fieldsReq     []string
	sortGiven     bool
	rowCountGiven bool
}

type criterion struct {
	field    string
	cond     string // normalised long form
	values   []string
	op       string // and / or, joining it to what precedes
	children []criterion
}

var condAliases = map[string]string{
	"is": "is", "=": "is", "eq": "is", "is not": "is not", "!=": "is not", "neq": "is not",
	"greater than": "greater than", "gt": "greater than", "greater or equal": "greater or equal", "gte": "greater or equal",
	"lesser than": "lesser than", "lt": "lesser than", "lesser or equal": "lesser or equal", "lte": "lesser or equal",
	"between": "between", "not between": "not between", "starts with": "starts with", "ends with": "ends with",
	"contains": "contains", "not contains": "not contains",
}

// parseListInfo reads {"list_info": {...}}; a missing input_data means
// the defaults.
func parseListInfo(input []byte, fieldOK func(string) bool) (*listInfo, *apiError) {
	li := &listInfo{rowCount: defaultRowCount, startIndex: 1}
	if input == nil {
		return li, nil
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(input, &top); err != nil || top == nil {
		return nil, errInvalidField("input_data", "Invalid input_data: not a JSON object")
	}
	for k := range top {
		if k != "list_info" {
			return nil, errExtraKey(k)
		}
	}
	raw, ok := top["list_info"]
	if !ok {
		return li, nil
	}
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil || m == nil {
		return nil, errTypeMismatch("list_info")
	}
	page := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		f := "list_info." + k
		var err error
		switch k {
		case "row_count":
			li.rowCount, err = flexInt(v)
			li.rowCountGiven = true
		case "start_index":
			li.startIndex, err = flexInt(v)
		case "page":
			page, err = flexInt(v)
		case "sort_field":
			err = json.Unmarshal(v, &li.sortField)
			li.sortGiven = true
			if err == nil && !fieldOK(li.sortField) {
				return nil, errInvalidField("sort_field", "Invalid Input")
			}
		case "sort_order":
			err = json.Unmarshal(v, &li.sortOrder)
			li.sortOrder = strings.ToLower(li.sortOrder)
			if err == nil && li.sortOrder != "asc" && li.sortOrder != "desc" {
				return nil, errInvalidField("sort_order", "Invalid Input")
			}
		case "get_total_count":
			li.getTotal, err = flexBool(v)
		case "search_fields":
			li.rawFields = v
			li.searchFields, err = decodeSearchFields(v)
			for name := range li.searchFields {
				if !fieldOK(name) {
					return nil, errInvalidField("search_fields", "Invalid Input: unknown field "+strconv.Quote(name))
				}
			}
		case "search_criteria":
			li.rawCriteria = v
			var e *apiError
			li.criteria, e = parseCriteria(v, fieldOK)
			if e != nil {
				return nil, e
			}
		case "fields_required":
			err = json.Unmarshal(v, &li.fieldsReq)
		case "filter_by":
			return nil, errInvalidField("filter_by", "Invalid Input: no such list view")
		default:
			return nil, errExtraKey(f)
		}
		if err != nil {
			return nil, errTypeMismatch(f)
		}
	}
	if li.rowCount <= 0 {
		li.rowCount = defaultRowCount
	}
	if li.rowCount > maxRowCount {
		li.rowCount = maxRowCount
	}
	if page > 0 && m["start_index"] == nil {
		li.startIndex = (page-1)*li.rowCount + 1
	}
	if li.startIndex < 1 {
		li.startIndex = 1
	}
	return li, nil
}

func flexInt(v json.RawMessage) (int, error) {
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		i, err := strconv.Atoi(n.String())
		return i, err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(s))
}

func flexBool(v json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return false, err
	}
	return strconv.ParseBool(s)
}

func decodeSearchFields(v json.RawMessage) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := strictUnmarshal(v, &m); err != nil || m == nil {
		return nil, fmt.Errorf("not an object")
	}
	out := map[string]string{}
	for k, raw := range m {
		t, ok := scalarText(raw)
		if !ok {
			return nil, fmt.Errorf("not a scalar")
		}
		out[k] = t
	}
	return out, nil
}

// scalarText is the text of a JSON string, number or boolean.
func scalarText(raw json.RawMessage) (string, bool) {
	var x any
	if strictUnmarshal(raw, &x) != nil {
		return "", false
	}
	switch v := x.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

type rawCriterion struct {
	Field           *string           `json:"field"`
	Condition       *string           `json:"condition"`
	Value           json.RawMessage   `json:"value"`
	Values          []json.RawMessage `json:"values"`
	LogicalOperator *string           `json:"logical_operator"`
	Children        json.RawMessage   `json:"children"`
}

// parseCriteria reads a criterion object or an array of them.
func parseCriteria(v json.RawMessage, fieldOK func(string) bool) ([]criterion, *apiError) {
	v = bytes.TrimSpace(v)
	var list []json.RawMessage
	if len(v) > 0 && v[0] == '[' {
		if err := strictUnmarshal(v, &list); err != nil {
			return nil, errTypeMismatch("search_criteria")
		}
	} else {
		list = []json.RawMessage{v}
	}
	out := make([]criterion, 0, len(list))
	for i, raw := range list {
		c, e := parseCriterion(raw, fieldOK)
		if e != nil {
			return nil, e
		}
		if i > 0 && c.op == "" {
			c.op = "and"
		}
		out = append(out, c)
	}
	return out, nil
}

func parseCriterion(raw json.RawMessage, fieldOK func(string) bool) (criterion, *apiError) {
	bad := func(msg string) (criterion, *apiError) {
		return criterion{}, errInvalidField("search_criteria", "Invalid Input: "+msg)
	}
	var keys map[string]json.RawMessage
	if err := strictUnmarshal(raw, &keys); err != nil || keys == nil {
		return criterion{}, errTypeMismatch("search_criteria")
	}
	for k := range keys {
		switch k {
		case "field", "condition", "value", "values", "logical_operator", "children":
		default:
			return criterion{}, errExtraKey("search_criteria." + k)
		}
	}
	var rc rawCriterion
	if err := strictUnmarshal(raw, &rc); err != nil {
		return criterion{}, errTypeMismatch("search_criteria")
	}
	var c criterion
	if rc.Field == nil || rc.Condition == nil {
		return bad("a criterion needs field and condition")
	}
	c.field = *rc.Field
	if !fieldOK(c.field) {
		return bad("unknown field " + strconv.Quote(c.field))
	}
	cond, ok := condAliases[strings.ToLower(strings.TrimSpace(*rc.Condition))]
	if !ok {
		return bad("unknown condition " + strconv.Quote(*rc.Condition))
	}
	c.cond = cond
	hasValue := len(rc.Value) > 0 && !isJSONNull(rc.Value)
	switch {
	case hasValue && rc.Values != nil:
		return bad("both value and values")
	case hasValue:
		t, ok := scalarText(rc.Value)
		if !ok {
			return criterion{}, errTypeMismatch("search_criteria.value")
		}
		c.values = []string{t}
	case len(rc.Values) > 0:
		for _, x := range rc.Values {
			t, ok := scalarText(x)
			if !ok {
				return criterion{}, errTypeMismatch("search_criteria.values")
			}
			c.values = append(c.values, t)
		}
	default:
		return bad("a criterion needs value or values")
	}
	if (cond == "between" || cond == "not between") && len(c.values) != 2 {
		return bad(cond + " needs two values")
	}
	if rc.LogicalOperator != nil {
		c.op = strings.ToLower(*rc.LogicalOperator)
		if c.op != "and" && c.op != "or" {
			return bad("logical_operator must be and or or")
		}
	}
	if len(rc.Children) > 0 && !isJSONNull(rc.Children) {
		if bytes.TrimSpace(rc.Children)[0] != '[' {
			return criterion{}, errTypeMismatch("search_criteria.children")
		}
		ch, e := parseCriteria(rc.Children, fieldOK)
		if e != nil {
			return criterion{}, e
		}
		c.children = ch
	}
	return c, nil
}

// lookupPath walks a dotted path through a rendered row. A {value,
// display_value} pair yields its value; an object reached by the whole
// path yields its name.
func lookupPath(row map[string]any, path string) any {
	var cur any = row
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	if m, ok := cur.(map[string]any); ok {
		if v, ok := m["value"]; ok {
			return v
		}
		if v, ok := m["name"]; ok {
			return v
		}
	}
	return cur
}

func valueText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// compareValues orders a and b numerically when both are numbers, else by
// case-folded text.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// match evaluates one criterion (with its children) on a row. Text
// comparisons ignore case. A field with no value (null) matches only the
// negative conditions (is not, not contains, not between).
func (c *criterion) match(row map[string]any) bool {
	v := lookupPath(row, c.field)
	t, has := valueText(v)
	lt := strings.ToLower(t)
	var ok bool
	switch c.cond {
	case "is":
		ok = has && slices.ContainsFunc(c.values, func(x string) bool { return strings.EqualFold(x, t) })
	case "is not":
		ok = !has || !slices.ContainsFunc(c.values, func(x string) bool { return strings.EqualFold(x, t) })
	case "contains":
		ok = has && slices.ContainsFunc(c.values, func(x string) bool { return strings.Contains(lt, strings.ToLower(x)) })
	case "not contains":
		ok = !has || !slices.ContainsFunc(c.values, func(x string) bool { return strings.Contains(lt, strings.ToLower(x)) })
	case "starts with":
		ok = has && slices.ContainsFunc(c.values, func(x string) bool { return strings.HasPrefix(lt, strings.ToLower(x)) })
	case "ends with":
		ok = has && slices.ContainsFunc(c.values, func(x string) bool { return strings.HasSuffix(lt, strings.ToLower(x)) })
	case "greater than":
		ok = has && compareValues(t, c.values[0]) > 0
	case "greater or equal":
		ok = has && compareValues(t, c.values[0]) >= 0
	case "lesser than":
		ok = has && compareValues(t, c.values[0]) < 0
	case "lesser or equal":
		ok = has && compareValues(t, c.values[0]) <= 0
	case "between":
		ok = has && compareValues(t, c.values[0]) >= 0 && compareValues(t, c.values[1]) <= 0
	case "not between":
		ok = !has || compareValues(t, c.values[0]) < 0 || compareValues(t, c.values[1]) > 0
	}
	for i := range c.children {
		ok = combine(ok, c.children[i].op, c.children[i].match(row))
	}
	return ok
}

// combine folds criteria left to right; a child or later criterion with no
// operator joins with and.
func combine(acc bool, op string, next bool) bool {
	if op == "or" {
		return acc || next
	}
	return acc && next
}

func matchAll(cs []criterion, row map[string]any) bool {
	if len(cs) == 0 {
		return true
	}
	acc := cs[0].match(row)
	for i := 1; i < len(cs); i++ {
		acc = combine(acc, cs[i].op, cs[i].match(row))
	}
	return acc
}

// list filters, sorts and pages rows by input_data's list_info and answers
// them under key. trim, when set, turns a matching full row (by its index
// in rows) into its list-view row. defaultSort is the sort field echoed
// when the call names none ("" for none).
//
// Field names in list_info are checked against sample's keys, or the first
// row's when sample is nil (any name passes on an empty list without one).
func (s *Server) list(input []byte, key string, rows []map[string]any, sample map[string]any, trim func(int, map[string]any) map[string]any, defaultSort string) (int, any, *apiError) {
	if sample == nil && len(rows) > 0 {
		sample = rows[0]
	}
	fieldOK := func(f string) bool {
		if f == "" || sample == nil {
			return f != ""
		}
		first, _, _ := strings.Cut(f, ".")
		_, ok := sample[first]
		return ok
	}
	li, e := parseListInfo(input, fieldOK)
	if e != nil {
		return 0, nil, e
	}
	idx := make([]int, 0, len(rows))
	for i, row := range rows {
		if !matchAll(li.criteria, row) || !matchFields(li.searchFields, row) {
			continue
		}
		idx = append(idx, i)
	}
	sortField, sortOrder := li.sortField, li.sortOrder
	if sortField == "" {
		sortField = defaultSort
	}
	if sortOrder == "" {
		sortOrder = "asc"
	}
	if li.sortGiven && sortField != "" {
		slices.SortStableFunc(idx, func(a, b int) int {
			va := lookupPath(rows[a], sortField)
			vb := lookupPath(rows[b], sortField)
			ta, hasA := valueText(va)
			tb, hasB := valueText(vb)
			var c int
			switch {
			case !hasA && !hasB:
				c = 0
			case !hasA:
				c = -1
			case !hasB:
				c = 1
			default:
				c = compareValues(ta, tb)
			}
			if sortOrder == "desc" {
				c = -c
			}
			return c
		})
	} else if sortOrder == "desc" {
		slices.Reverse(idx)
	}
	total := len(idx)
	from := min(li.startIndex-1, total)
	to := min(from+li.rowCount, total)
	page := make([]any, 0, to-from)
	for _, i := range idx[from:to] {
		row := rows[i]
		if trim != nil {
			row = trim(i, row)
		}
		if len(li.fieldsReq) > 0 {
			t := map[string]any{"id": row["id"]}
			for _, f := range li.fieldsReq {
				if v, ok := row[f]; ok {
					t[f] = v
				}
			}
			row = t
		}
		page = append(page, row)
	}
	info := map[string]any{
		"has_more_rows": to < total, "row_count": len(page), "start_index": li.startIndex,
	}
	if sortField != "" {
		info["sort_field"] = sortField
		info["sort_order"] = sortOrder
	}
	if li.getTotal {
		info["total_count"] = total
		info["get_total_count"] = true
	}
	if li.rawCriteria != nil {
		info["search_criteria"] = li.rawCriteria
	}
	if li.rawFields != nil {
		info["search_fields"] = li.rawFields
	}
	return http.StatusOK, map[string]any{
		"response_status": []any{successStatus()}, "list_info": info, key: page,
	}, nil
}

func matchFields(fields map[string]string, row map[string]any) bool {
	for f, want := range fields {
		v := lookupPath(row, f)
		t, ok := valueText(v)
		if !ok || !strings.EqualFold(t, want) {
			return false
		}
	}
	return true
}
