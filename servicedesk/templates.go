package servicedesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"sync"
)

// TemplatesService reads request templates (c.Templates): the list, one
// template with its defaults, and its layouts and fields.
//
// How SDP marks a field as mandatory in a layout is not established, so
// this client relies on no such flag: layouts are exposed as SDP returns
// them (unknown keys included, in Extra), and mandatory fields are learned
// from the 4012 answers of creates ([MandatoryFields],
// [MandatoryFieldCache]). On SDP Cloud reading templates needs the
// SDPOnDemand.setup.READ scope.
type TemplatesService service

// TemplateKind selects incident or service templates in a list.
type TemplateKind int

const (
	// AnyTemplate lists incident and service templates alike.
	AnyTemplate TemplateKind = iota
	// IncidentTemplates lists templates with is_service_template false.
	IncidentTemplates
	// ServiceTemplates lists templates with is_service_template true.
	ServiceTemplates
)

// TemplateListOptions narrow a template list. Kind and Inactive become
// search_criteria entries added (with "and") after ListOptions'
// own.
type TemplateListOptions struct {
	ListOptions
	Kind TemplateKind
	// Inactive, when set, keeps only templates whose inactive flag equals
	// it: a pointer to false lists the templates in use.
	Inactive *bool
}

// RequestTemplate is a request template as SDP returns it. List rows carry
// the summary fields; Get adds Request (the values the template fills in)
// and Layouts.
type RequestTemplate struct {
	ID                  ID              `json:"id"`
	Name                string          `json:"name"`
	Description         string          `json:"description,omitempty"`
	Comments            string          `json:"comments,omitempty"`
	Image               string          `json:"image,omitempty"`
	IsDefault           bool            `json:"is_default,omitempty"`
	IsServiceTemplate   bool            `json:"is_service_template,omitempty"`
	IsCustomerSegmented bool            `json:"is_customer_segmented,omitempty"`
	Inactive            bool            `json:"inactive,omitempty"`
	ShowToRequester     bool            `json:"show_to_requester,omitempty"`
	ServiceCategory     *Ref            `json:"service_category,omitempty"`
	Workflow            *Ref            `json:"workflow,omitempty"`
	Lifecycle           *Ref            `json:"lifecycle,omitempty"`
	HasTasks            bool            `json:"has_tasks,omitempty"`
	HasChecklists       bool            `json:"has_checklists,omitempty"`
	Request             json.RawMessage `json:"request,omitempty"` // default values, as SDP sent them
	Layouts             []Layout        `json:"layouts,omitempty"`
}

// Layout is one layout of a template (SDP has technician and requester
// layouts), made of sections of fields.
type Layout struct {
	ID       ID              `json:"id,omitempty"`
	Name     string          `json:"name,omitempty"`
	HelpText json.RawMessage `json:"help_text,omitempty"`
	Sections []Section       `json:"sections,omitempty"`
}

// Section is a section of a layout.
type Section struct {
	ID     ID            `json:"id,omitempty"`
	Name   string        `json:"name,omitempty"`
	Fields []LayoutField `json:"fields,omitempty"`
}

// LayoutField is a field placed in a layout section. Name is the field's
// key in a request ("subject", "udf_fields.txt_my_field"). Every key SDP
// sends beyond the known ones is kept in Extra, raw: it may carry what a
// given SDP build says about the field, but the client reads nothing
// from it.
type LayoutField struct {
	Name         string                     `json:"name"`
	TemplateID   ID                         `json:"template_id,omitempty"`
	DefaultValue []FieldValue               `json:"default_value,omitempty"`
	Scopings     []Scoping                  `json:"scopings,omitempty"`
	Extra        map[string]json.RawMessage `json:"-"`
}

// FieldValue is one default value of a layout field, raw: a string, a
// lookup object or a {value, display_value} pair.
type FieldValue struct {
	Value json.RawMessage `json:"value,omitempty"`
}

// Scoping says who may do what with a field: Scope "requester",
// "technician", …; Access "editable", "read_only", ….
type Scoping struct {
	Scope  string `json:"scope,omitempty"`
	Access string `json:"access,omitempty"`
}

var layoutFieldKeys = []string{"name", "template_id", "default_value", "scopings"}

// UnmarshalJSON decodes the known keys and keeps the others in Extra.
func (f *LayoutField) UnmarshalJSON(b []byte) error {
	type plain LayoutField
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("layout field: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("layout field: %w", err)
	}
	for k, v := range all {
		if slices.Contains(layoutFieldKeys, k) {
			continue
		}
		if p.Extra == nil {
			p.Extra = map[string]json.RawMessage{}
		}
		p.Extra[k] = v
	}
	*f = LayoutField(p)
	return nil
}

// MarshalJSON writes the known keys and Extra back as one object.
func (f LayoutField) MarshalJSON() ([]byte, error) {
	type plain LayoutField
	known, err := json.Marshal(plain(f))
	if err != nil || len(f.Extra) == 0 {
		return known, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(known, &m); err != nil {
		return nil, err
	}
	for k, v := range f.Extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Fields returns the names of every field placed in the template's
// layouts, in layout order and without repeats.
func (t *RequestTemplate) Fields() []string {
	return layoutFieldNames(t.Layouts)
}

func layoutFieldNames(ls []Layout) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range ls {
		for _, s := range l.Sections {
			for _, f := range s.Fields {
				if f.Name != "" && !seen[f.Name] {
					seen[f.Name] = true
					out = append(out, f.Name)
				}
			}
		}
	}
	return out
}

func templateListOptions(opts *TemplateListOptions) (*ListOptions, error) {
	if opts == nil {
		return nil, nil
	}
	o := opts.ListOptions
	o.SearchCriteria = slices.Clone(o.SearchCriteria)
	add := func(field string, v bool) {
		c := Criterion{Field: field, Condition: Is, Value: v}
		if len(o.SearchCriteria) > 0 {
			c.LogicalOperator = And
		}
		o.SearchCriteria = append(o.SearchCriteria, c)
	}
	switch opts.Kind {
	case AnyTemplate:
	case IncidentTemplates:
		add("is_service_template", false)
	case ServiceTemplates:
		add("is_service_template", true)
	default:
		return nil, fmt.Errorf("servicedesk: template kind %d: want AnyTemplate, IncidentTemplates or ServiceTemplates", opts.Kind)
	}
	if opts.Inactive != nil {
		add("inactive", *opts.Inactive)
	}
	return &o, nil
}

// List reads one page of templates. opts may be nil.
func (s *TemplatesService) List(ctx context.Context, opts *TemplateListOptions) (*Page[RequestTemplate], error) {
	o, err := templateListOptions(opts)
	if err != nil {
		return nil, err
	}
	return listKeyed[RequestTemplate](ctx, s.client, "request_templates", "request_templates", o)
}

// All iterates over every template matching opts, page after page.
func (s *TemplatesService) All(ctx context.Context, opts *TemplateListOptions) iter.Seq2[*RequestTemplate, error] {
	o, err := templateListOptions(opts)
	if err != nil {
		return func(yield func(*RequestTemplate, error) bool) { yield(nil, err) }
	}
	return allPages(ctx, o, func(ctx context.Context, o *ListOptions) (*Page[RequestTemplate], error) {
		return listKeyed[RequestTemplate](ctx, s.client, "request_templates", "request_templates", o)
	})
}

func checkTemplateID(id ID) error {
	if !validID(id) {
		return fmt.Errorf("servicedesk: invalid template id %q: want a non-empty string of digits", truncate(string(id), 40))
	}
	return nil
}

type templateAnswer struct {
	envelope
	Template *RequestTemplate `json:"request_template"`
}

// Get reads one template with its default values and, where SDP includes
// them, its layouts.
func (s *TemplatesService) Get(ctx context.Context, id ID) (*RequestTemplate, error) {
	if err := checkTemplateID(id); err != nil {
		return nil, err
	}
	var out templateAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodGet, path: "request_templates/" + string(id)}, &out); err != nil {
		return nil, err
	}
	if out.Template == nil {
		return nil, fmt.Errorf("servicedesk: answer has no request_template: %w", ErrUnexpectedContent)
	}
	return out.Template, nil
}

type layoutsAnswer struct {
	envelope
	Layouts []Layout `json:"layouts"`
}

// Layouts reads the template's layouts (GET
// /request_templates/{id}/layouts), with their sections and fields as SDP
// returns them.
func (s *TemplatesService) Layouts(ctx context.Context, id ID) ([]Layout, error) {
	if err := checkTemplateID(id); err != nil {
		return nil, err
	}
	var out layoutsAnswer
	if _, err := s.client.do(ctx, call{method: http.MethodGet, path: "request_templates/" + string(id) + "/layouts"}, &out); err != nil {
		return nil, err
	}
	return out.Layouts, nil
}

// MandatoryFields returns the fields SDP named in a 4012 answer ("value
// for mandatory field not provided"), from both field and fields, when err
// is or wraps such an *Error; otherwise nil.
func MandatoryFields(err error) []string {
	var se *Error
	if !errors.As(err, &se) || !se.Is(ErrMandatoryField) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range se.Messages {
		if m.StatusCode != 4012 {
			continue
		}
		for _, f := range append([]string{m.Field}, m.Fields...) {
			if f != "" && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// MandatoryFieldCache remembers, per template, the fields SDP reported as
// mandatory in 4012 answers, so that a configuration check can ask for
// them before the next create. The zero value is ready; it is safe for
// concurrent use. Entries are only added: SDP's answers say a field is
// required, never that it no longer is (call Forget after changing the
// template in SDP).
type MandatoryFieldCache struct {
	mu sync.RWMutex
	m  map[ID][]string
}

// Learn records the mandatory fields err reports (see MandatoryFields)
// for the template and returns the ones not known before.
func (c *MandatoryFieldCache) Learn(template ID, err error) []string {
	fs := MandatoryFields(err)
	if len(fs) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[ID][]string{}
	}
	var added []string
	for _, f := range fs {
		if !slices.Contains(c.m[template], f) {
			c.m[template] = append(c.m[template], f)
			added = append(added, f)
		}
	}
	return added
}

// Fields returns a copy of the fields learned for the template, in the
// order they were learned.
func (c *MandatoryFieldCache) Fields(template ID) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.m[template])
}

// Missing returns the learned mandatory fields of the template that are
// not in have (the field keys a configuration fills in).
func (c *MandatoryFieldCache) Missing(template ID, have []string) []string {
	var out []string
	for _, f := range c.Fields(template) {
		if !slices.Contains(have, f) {
			out = append(out, f)
		}
	}
	return out
}

// Forget drops what was learned about the template.
func (c *MandatoryFieldCache) Forget(template ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, template)
}
