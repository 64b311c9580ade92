package sdptest

import (
	"errors"
	"fmt"
	"strings"
)

// Seed is the instance data a Server starts with: the lookups, users and
// templates that requests refer to by name or id. Ids are not part of the
// seed: the server assigns them (small numbers on-premises, 18-digit
// numbers on cloud). Names are matched case-insensitively, as SDP does.
// Replace the default with WithSeed.
type Seed struct {
	Priorities   []SeedPriority
	Statuses     []SeedStatus
	Urgencies    []string
	Impacts      []string
	Levels       []string
	Modes        []string
	RequestTypes []string
	Sites        []string
	Categories   []SeedCategory
	Groups       []string // support groups
	// Users are the instance's users. The first one is the API caller (the
	// owner of every accepted key): the default requester and the author
	// of requests, notes and resolutions, and who picks requests up; it
	// must be a technician.
	Users     []SeedUser
	UDFs      []SeedUDF
	Templates []SeedTemplate
	// DefaultStatus is the status of a new request that names none; it
	// must be one of Statuses.
	DefaultStatus string
}

// SeedPriority is a priority and its colour.
type SeedPriority struct {
	Name  string
	Color string
}

// SeedStatus is a request status with SDP's flags: InternalName is the
// status's fixed type (Open, Onhold, Resolved, Closed, Canceled, …),
// InProgress tells open statuses from finished ones, StopTimer whether the
// SLA timer stops. The status whose InternalName is "Closed" is the one a
// close sets.
type SeedStatus struct {
	Name         string
	InternalName string
	InProgress   bool
	StopTimer    bool
	Color        string
}

// SeedCategory is a category with its subcategories.
type SeedCategory struct {
	Name          string
	Subcategories []SeedSubcategory
}

// SeedSubcategory is a subcategory with its items.
type SeedSubcategory struct {
	Name  string
	Items []string
}

// SeedUser is a user; IsTechnician users are also listed by /technicians
// and may be a request's technician.
type SeedUser struct {
	Name         string // display name; several users may share one
	FirstName    string
	LastName     string
	LoginName    string
	EmailID      string
	Phone        string
	Mobile       string
	JobTitle     string
	Department   string
	IsTechnician bool
	IsVIP        bool
}

// SeedUDF is a user-defined request field.
type SeedUDF struct {
	Key         string // for example udf_sline_301
	DisplayName string
	// FieldType is SDP's field type name: "Single Line", "Multi Line",
	// "Pick List", "Numeric", "Date/Time" or "Check Box".
	FieldType string
}

// SeedTemplate is a request template. Mandatory lists the fields a request
// made from it must carry, by their input names: "category",
// "subcategory", "priority", …, or "udf_fields.<key>".
type SeedTemplate struct {
	Name      string
	IsDefault bool
	Comments  string
	Mandatory []string
	// Status is the status a new request made from the template gets when
	// it names none; empty for the seed's DefaultStatus.
	Status string
}

// Names of the default seed, for tests that use it.
const (
	// DefaultTemplate is the default seed's template with no mandatory
	// field; requests that name no template get it.
	DefaultTemplate = "Default Request"
	// VulnTemplate is the default seed's template whose mandatory fields
	// are a category and the UDF VulnUDF.
	VulnTemplate = "Security Vulnerability"
	// VulnUDF is the key of the default seed's single-line UDF "CVE".
	VulnUDF = "udf_sline_301"
	// SharedUserName is the display name two users of the default seed
	// share (with different login names and email addresses).
	SharedUserName = "Alex Kim"
)

// DefaultSeed returns a fresh copy of the default seed: four priorities
// (Low, Medium, High, Urgent: fewer levels than a scanner's six severities),
// six statuses (Open, In Progress, On Hold, Resolved, Closed, Canceled),
// urgencies, impacts, levels, modes, request types, sites, a category tree,
// three support groups, users (technicians among them, and two users
// sharing the display name SharedUserName), one UDF and two templates: one
// with no mandatory field (DefaultTemplate, the default) and one requiring a
// category and the UDF (VulnTemplate).
func DefaultSeed() *Seed {
	return &Seed{
		Priorities: []SeedPriority{
			{Name: "Low", Color: "#666666"},
			{Name: "Medium", Color: "#006600"},
			{Name: "High", Color: "#ff6600"},
			{Name: "Urgent", Color: "#ff0000"},
		},
		Statuses: []SeedStatus{
			{Name: "Open", InternalName: "Open", InProgress: true, Color: "#0066ff"},
			{Name: "In Progress", InternalName: "Inprogress", InProgress: true, Color: "#00aaff"},
			{Name: "On Hold", InternalName: "Onhold", InProgress: true, StopTimer: true, Color: "#ff9900"},
			{Name: "Resolved", InternalName: "Resolved", StopTimer: true, Color: "#009900"},
			{Name: "Closed", InternalName: "Closed", StopTimer: true, Color: "#006600"},
			{Name: "Canceled", InternalName: "Canceled", StopTimer: true, Color: "#999999"},
		},
		Urgencies:    []string{"Low", "Normal", "High", "Urgent"},
		Impacts:      []string{"Affects User", "Affects Group", "Affects Department", "Affects Business"},
		Levels:       []string{"Tier 1", "Tier 2", "Tier 3", "Tier 4"},
		Modes:        []string{"E-Mail", "Phone Call", "Web Form"},
		RequestTypes: []string{"Incident", "Service Request"},
		Sites:        []string{"Headquarters", "Branch Office"},
		Categories: []SeedCategory{
			{Name: "Security", Subcategories: []SeedSubcategory{
				{Name: "Vulnerability", Items: []string{"Web Application", "Network", "Host"}},
				{Name: "Incident Response", Items: []string{"Malware", "Phishing"}},
			}},
			{Name: "Network", Subcategories: []SeedSubcategory{
				{Name: "Firewall", Items: []string{"Rule Change"}},
				{Name: "VPN"},
			}},
			{Name: "Software", Subcategories: []SeedSubcategory{
				{Name: "MS Office", Items: []string{"Outlook", "Excel"}},
			}},
		},
		Groups: []string{"Security Team", "Network", "Service Desk"},
		Users: []SeedUser{
			{Name: "administrator", FirstName: "administrator", LoginName: "administrator", EmailID: "admin@example.com", IsTechnician: true},
			{Name: "Dana Reyes", FirstName: "Dana", LastName: "Reyes", LoginName: "dreyes", EmailID: "dana.reyes@example.com", JobTitle: "Security Engineer", Department: "IT", IsTechnician: true},
			{Name: "Sam Okafor", FirstName: "Sam", LastName: "Okafor", LoginName: "sokafor", EmailID: "sam.okafor@example.com", Department: "IT", IsTechnician: true},
			{Name: SharedUserName, FirstName: "Alex", LastName: "Kim", LoginName: "akim", EmailID: "alex.kim@example.com", Department: "Finance"},
			{Name: SharedUserName, FirstName: "Alex", LastName: "Kim", LoginName: "akim2", EmailID: "alexander.kim@example.com", Department: "Sales", IsVIP: true},
			{Name: "Priya Shah", FirstName: "Priya", LastName: "Shah", LoginName: "pshah", EmailID: "priya.shah@example.com", Phone: "555-0100"},
		},
		UDFs: []SeedUDF{{Key: VulnUDF, DisplayName: "CVE", FieldType: "Single Line"}},
		Templates: []SeedTemplate{
			{Name: DefaultTemplate, IsDefault: true, Comments: "Default template used for new requests"},
			{Name: VulnTemplate, Comments: "Vulnerability found by a scanner", Mandatory: []string{"category", "udf_fields." + VulnUDF}},
		},
		DefaultStatus: "Open",
	}
}

// lookupFields are the request fields a template may make mandatory, beside
// subject, description and UDFs.
var mandatoryCandidates = map[string]bool{
	"subject": true, "description": true, "requester": true, "technician": true, "status": true,
	"priority": true, "urgency": true, "impact": true, "level": true, "mode": true, "request_type": true,
	"site": true, "group": true, "category": true, "subcategory": true, "item": true, "impact_details": true,
	"due_by_time": true,
}

// Validate reports every problem of the seed at once, each with where it
// is, for example `Statuses[2].Name is empty`.
func (s *Seed) Validate() error {
	if s == nil {
		return errors.New("sdptest: nil *Seed")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("sdptest: seed "+format, args...)) }
	names := func(what string, list []string) {
		seen := map[string]bool{}
		for i, n := range list {
			k := strings.ToLower(strings.TrimSpace(n))
			switch {
			case k == "":
				bad("%s[%d] is empty", what, i)
			case seen[k]:
				bad("%s[%d] %q is a duplicate", what, i, n)
			}
			seen[k] = true
		}
	}
	var pr, st, cats []string
	for _, p := range s.Priorities {
		pr = append(pr, p.Name)
	}
	names("Priorities", pr)
	closed := 0
	for _, x := range s.Statuses {
		st = append(st, x.Name)
		if strings.EqualFold(x.InternalName, "Closed") {
			closed++
		}
	}
	names("Statuses", st)
	if closed != 1 {
		bad("Statuses: want exactly one status with InternalName \"Closed\", have %d", closed)
	}
	if !containsFold(st, s.DefaultStatus) {
		bad("DefaultStatus %q is not one of Statuses", s.DefaultStatus)
	}
	names("Urgencies", s.Urgencies)
	names("Impacts", s.Impacts)
	names("Levels", s.Levels)
	names("Modes", s.Modes)
	names("RequestTypes", s.RequestTypes)
	names("Sites", s.Sites)
	names("Groups", s.Groups)
	for i, c := range s.Categories {
		cats = append(cats, c.Name)
		var subs []string
		for j, sc := range c.Subcategories {
			subs = append(subs, sc.Name)
			names(fmt.Sprintf("Categories[%d].Subcategories[%d].Items", i, j), sc.Items)
		}
		names(fmt.Sprintf("Categories[%d].Subcategories", i), subs)
	}
	names("Categories", cats)
	if len(s.Users) == 0 || !s.Users[0].IsTechnician {
		bad("Users: want at least one user, the first a technician (the API caller)")
	}
	logins, emails := map[string]bool{}, map[string]bool{}
	for i, u := range s.Users {
		l, e := strings.ToLower(u.LoginName), strings.ToLower(u.EmailID)
		switch {
		case strings.TrimSpace(u.Name) == "":
			bad("Users[%d].Name is empty", i)
		case l == "":
			bad("Users[%d].LoginName is empty", i)
		case logins[l]:
			bad("Users[%d].LoginName %q is a duplicate", i, u.LoginName)
		case e != "" && emails[e]:
			bad("Users[%d].EmailID %q is a duplicate", i, u.EmailID)
		}
		logins[l] = true
		if e != "" {
			emails[e] = true
		}
	}
	udfs := map[string]bool{}
	for i, u := range s.UDFs {
		if !validUDFKey(u.Key) {
			bad("UDFs[%d].Key %q: want udf_<type>_<n> or a cloud-style key (letters, digits, underscores)", i, u.Key)
		}
		if udfs[u.Key] {
			bad("UDFs[%d].Key %q is a duplicate", i, u.Key)
		}
		udfs[u.Key] = true
	}
	var tn []string
	defaults := 0
	for i, t := range s.Templates {
		tn = append(tn, t.Name)
		if t.IsDefault {
			defaults++
		}
		if t.Status != "" && !containsFold(st, t.Status) {
			bad("Templates[%d].Status %q is not one of Statuses", i, t.Status)
		}
		for j, m := range t.Mandatory {
			if k, ok := strings.CutPrefix(m, "udf_fields."); ok {
				if !udfs[k] {
					bad("Templates[%d].Mandatory[%d] %q names no UDF of the seed", i, j, m)
				}
				continue
			}
			if !mandatoryCandidates[m] {
				bad("Templates[%d].Mandatory[%d] %q is not a request field a template can require", i, j, m)
			}
		}
	}
	names("Templates", tn)
	if defaults != 1 {
		bad("Templates: want exactly one IsDefault template, have %d", defaults)
	}
	return errors.Join(errs...)
}

func validUDFKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// clone returns a deep copy, so a caller's later changes do not reach a
// running server.
func (s *Seed) clone() *Seed {
	c := *s
	c.Priorities = append([]SeedPriority(nil), s.Priorities...)
	c.Statuses = append([]SeedStatus(nil), s.Statuses...)
	c.Urgencies = append([]string(nil), s.Urgencies...)
	c.Impacts = append([]string(nil), s.Impacts...)
	c.Levels = append([]string(nil), s.Levels...)
	c.Modes = append([]string(nil), s.Modes...)
	c.RequestTypes = append([]string(nil), s.RequestTypes...)
	c.Sites = append([]string(nil), s.Sites...)
	c.Groups = append([]string(nil), s.Groups...)
	c.Users = append([]SeedUser(nil), s.Users...)
	c.UDFs = append([]SeedUDF(nil), s.UDFs...)
	c.Categories = make([]SeedCategory, len(s.Categories))
	for i, cat := range s.Categories {
		c.Categories[i] = SeedCategory{Name: cat.Name, Subcategories: make([]SeedSubcategory, len(cat.Subcategories))}
		for j, sc := range cat.Subcategories {
			c.Categories[i].Subcategories[j] = SeedSubcategory{Name: sc.Name, Items: append([]string(nil), sc.Items...)}
		}
	}
	c.Templates = make([]SeedTemplate, len(s.Templates))
	for i, t := range s.Templates {
		t.Mandatory = append([]string(nil), t.Mandatory...)
		c.Templates[i] = t
	}
	return &c
}
