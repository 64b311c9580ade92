package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strings"

	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// collect reads an iterator of SDP rows into a slice.
func collect[T any](seq iter.Seq2[*T, error], name func(*T) string) ([]string, []*T, error) {
	names := []string{}
	var rows []*T
	for row, err := range seq {
		if err != nil {
			return nil, nil, err
		}
		names = append(names, name(row))
		rows = append(rows, row)
	}
	return names, rows, nil
}

// configuredFields lists what the templates' fields need fetched.
type configuredFields struct {
	categories  map[string]map[string]bool // category → subcategories (normalised) configured
	subItems    bool                       // an item is configured somewhere
	groups      bool
	technicians bool
	users       []string            // values of user Search fields
	dropdowns   map[string][]string // other dropdown keys → configured paths
}

func scanFields(cfg *mapping.Config) configuredFields {
	cf := configuredFields{categories: map[string]map[string]bool{}, dropdowns: map[string][]string{}}
	for i := range cfg.Templates {
		for j := range cfg.Templates[i].Fields {
			f := &cfg.Templates[i].Fields[j]
			key := strings.TrimSpace(f.Field)
			path := fmt.Sprintf("templates[%d].fields[%d]", i, j)
			switch f.Type {
			case mapping.Dropdown:
				if key == "category" {
					var cv mapping.CategoryValue
					if err := json.Unmarshal(f.Value, &cv); err != nil {
						var s string
						if json.Unmarshal(f.Value, &s) == nil {
							cv.Category = s
						}
					}
					if cv.Category == "" {
						continue
					}
					c := normName(cv.Category)
					if cf.categories[c] == nil {
						cf.categories[c] = map[string]bool{}
					}
					if cv.Subcategory != "" {
						cf.categories[c][normName(cv.Subcategory)] = true
					}
					if cv.Item != "" {
						cf.subItems = true
					}
					continue
				}
				cf.dropdowns[key] = append(cf.dropdowns[key], path)
			case mapping.Search:
				kind := f.Search
				if kind == "" {
					kind = mapping.SearchKind(key)
				}
				switch kind {
				case mapping.SearchGroup:
					cf.groups = true
				case mapping.SearchTechnician:
					cf.technicians = true
				case mapping.SearchUser:
					var s string
					if json.Unmarshal(f.Value, &s) == nil && s != "" {
						cf.users = append(cf.users, s)
					}
				}
			}
		}
	}
	return cf
}

func normName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// fetchCatalog fills cat with what the configuration names.
func (e *Engine) fetchCatalog(ctx context.Context, cfg *mapping.Config, cat *mapping.Catalog, p *prepared, extra *mapping.Problems) error {
	sdp := e.cfg.SDP
	wrap := func(what string, err error) error { return fmt.Errorf("engine: fetching %s: %w", what, err) }
	var err error
	if cat.Priorities, _, err = collect(sdp.Priorities.All(ctx, nil), func(r *servicedesk.Priority) string { return r.Name }); err != nil {
		return wrap("priorities", err)
	}
	var statuses []*servicedesk.Status
	if cat.Statuses, statuses, err = collect(sdp.Statuses.All(ctx, nil), func(r *servicedesk.Status) string { return r.Name }); err != nil {
		return wrap("statuses", err)
	}
	for _, s := range statuses {
		if strings.EqualFold(s.InternalName, "Closed") {
			p.closed[normStatus(s.Name)] = true
		}
	}

	_, templates, err := collect(sdp.Templates.All(ctx, nil), func(r *servicedesk.RequestTemplate) string { return r.Name })
	if err != nil {
		return wrap("request templates", err)
	}
	cat.Templates = make([]mapping.CatalogTemplate, 0, len(templates))
	for _, t := range templates {
		ct := mapping.CatalogTemplate{ID: string(t.ID), Name: t.Name}
		if configured(cfg, t) {
			full, err := sdp.Templates.Get(ctx, t.ID)
			if err != nil {
				return wrap(fmt.Sprintf("template %q", t.Name), err)
			}
			if len(full.Layouts) == 0 {
				layouts, err := sdp.Templates.Layouts(ctx, t.ID)
				if err != nil && !errors.Is(err, servicedesk.ErrNotFound) {
					return wrap(fmt.Sprintf("the layouts of template %q", t.Name), err)
				}
				full.Layouts = layouts
			}
			if len(full.Layouts) > 0 {
				ct.Fields = full.Fields()
			}
		}
		cat.Templates = append(cat.Templates, ct)
	}

	cf := scanFields(cfg)
	if len(cf.categories) > 0 {
		if err := e.fetchCategories(ctx, cf, cat); err != nil {
			return err
		}
	}
	if cf.groups {
		if cat.Groups, _, err = collect(sdp.Groups.All(ctx, nil), func(r *servicedesk.Group) string { return r.Name }); err != nil {
			return wrap("support groups", err)
		}
	}
	if cf.technicians {
		if cat.Technicians, _, err = collect(sdp.Technicians.All(ctx, nil), func(r *servicedesk.User) string { return r.Name }); err != nil {
			return wrap("technicians", err)
		}
	}
	for _, name := range cf.users {
		u, err := sdp.Users.Find(ctx, name)
		var amb *servicedesk.AmbiguousError
		switch {
		case errors.As(err, &amb):
			*extra = append(*extra, mapping.Problem{Path: "templates", Message: fmt.Sprintf(
				"the user search value %q names %d ServiceDesk users; give a login name or an e-mail address", name, len(amb.Candidates))})
		case errors.Is(err, servicedesk.ErrUserNotFound):
			// Check reports it, with the closest name it knows.
		case err != nil:
			return wrap(fmt.Sprintf("user %q", name), err)
		default:
			cat.Users = append(cat.Users, catalogUser(u))
		}
	}
	if len(cf.dropdowns) > 0 {
		if err := e.fetchOptions(ctx, cf, cat, p); err != nil {
			return err
		}
	}
	return nil
}

// configured reports whether a template of the instance is one the
// configuration uses.
func configured(cfg *mapping.Config, t *servicedesk.RequestTemplate) bool {
	for i := range cfg.Templates {
		ct := &cfg.Templates[i]
		if (ct.ID != "" && ct.ID == string(t.ID)) || (ct.ID == "" && normName(ct.Name) == normName(t.Name)) {
			return true
		}
	}
	return false
}

func (e *Engine) fetchCategories(ctx context.Context, cf configuredFields, cat *mapping.Catalog) error {
	sdp := e.cfg.SDP
	_, cats, err := collect(sdp.Categories.All(ctx, nil), func(r *servicedesk.Category) string { return r.Name })
	if err != nil {
		return fmt.Errorf("engine: fetching categories: %w", err)
	}
	cat.Categories = make([]mapping.CatalogCategory, 0, len(cats))
	for _, c := range cats {
		cc := mapping.CatalogCategory{Name: c.Name}
		wantSubs, ok := cf.categories[normName(c.Name)]
		if ok {
			_, subs, err := collect(sdp.Categories.AllSubcategories(ctx, c.ID, nil), func(r *servicedesk.Subcategory) string { return r.Name })
			if err != nil {
				return fmt.Errorf("engine: fetching the subcategories of %q: %w", c.Name, err)
			}
			cc.Subcategories = make([]mapping.CatalogSubcategory, 0, len(subs))
			for _, s := range subs {
				cs := mapping.CatalogSubcategory{Name: s.Name}
				if cf.subItems && wantSubs[normName(s.Name)] {
					items, _, err := collect(sdp.Categories.AllItems(ctx, s.ID, nil), func(r *servicedesk.Item) string { return r.Name })
					if err != nil {
						return fmt.Errorf("engine: fetching the items of %q > %q: %w", c.Name, s.Name, err)
					}
					cs.Items = items
				}
				cc.Subcategories = append(cc.Subcategories, cs)
			}
		}
		cat.Categories = append(cat.Categories, cc)
	}
	return nil
}

// fetchOptions fills Catalog.Options for the dropdowns whose options the
// client can list. Options is all or nothing in mapping.Check (a dropdown
// without an entry is reported as unchecked), so when a configured
// dropdown cannot be listed, Options stays nil and a warning says which
// values went unchecked.
func (e *Engine) fetchOptions(ctx context.Context, cf configuredFields, cat *mapping.Catalog, p *prepared) error {
	sdp := e.cfg.SDP
	listers := map[string]func() ([]string, error){
		"urgency": func() ([]string, error) {
			n, _, err := collect(sdp.Urgencies.All(ctx, nil), func(r *servicedesk.Urgency) string { return r.Name })
			return n, err
		},
		"impact": func() ([]string, error) {
			n, _, err := collect(sdp.Impacts.All(ctx, nil), func(r *servicedesk.Impact) string { return r.Name })
			return n, err
		},
		"site": func() ([]string, error) {
			n, _, err := collect(sdp.Sites.All(ctx, nil), func(r *servicedesk.Site) string { return r.Name })
			return n, err
		},
	}
	keys := make([]string, 0, len(cf.dropdowns))
	for k := range cf.dropdowns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opts := map[string][]string{}
	var unchecked []string
	for _, k := range keys {
		list, ok := listers[k]
		if !ok {
			unchecked = append(unchecked, k)
			continue
		}
		names, err := list()
		if err != nil {
			return fmt.Errorf("engine: fetching the options of %s: %w", k, err)
		}
		opts[k] = names
	}
	if len(unchecked) > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf(
			"the options of the dropdown fields %s cannot be listed through the API, so no dropdown value was checked against its options",
			strings.Join(unchecked, ", ")))
		return nil
	}
	cat.Options = opts
	return nil
}
