package faraday

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Action is something a role may do on a permission unit.
type Action string

// The six actions of Faraday's permission model.
const (
	ActionCreate Action = "create"
	ActionRead   Action = "read"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
	ActionRun    Action = "run"
	ActionTag    Action = "tag"
)

// Actions returns the six actions.
func Actions() []Action {
	return []Action{ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionRun, ActionTag}
}

// UnitID is the id of a permission unit, as Faraday seeds it.
type UnitID int

// Permission units, with the ids of Faraday's seed. Ids 27 (bulk_create)
// and 47 (licenses) were removed by a migration and are not units.
const (
	UnitUsers                  UnitID = 1
	UnitLogs                   UnitID = 2
	UnitTokens                 UnitID = 3
	UnitWhoami                 UnitID = 4
	UnitSwagger                UnitID = 5
	UnitExploits               UnitID = 6
	UnitNotifications          UnitID = 7
	UnitInfo                   UnitID = 8
	UnitPreferences            UnitID = 9
	UnitSearchFilters          UnitID = 10
	UnitTags                   UnitID = 11
	UnitSessions               UnitID = 12
	UnitCommands               UnitID = 13
	UnitGitLab                 UnitID = 14
	UnitJira                   UnitID = 15
	UnitServiceDesk            UnitID = 16
	UnitServiceNow             UnitID = 17
	UnitWebHelpDesk            UnitID = 18
	UnitActiveIntegrations     UnitID = 19
	UnitAgents                 UnitID = 20
	UnitAgentsSchedule         UnitID = 21
	UnitCloudAgents            UnitID = 22
	UnitCloudAgentsSchedule    UnitID = 23
	UnitAgentsTokens           UnitID = 24
	UnitAnalytics              UnitID = 25
	UnitVulnerabilities        UnitID = 26
	UnitCustomFields           UnitID = 28
	UnitVulnerabilityTemplates UnitID = 29
	UnitComments               UnitID = 30
	UnitUniqueComment          UnitID = 31
	UnitHosts                  UnitID = 32
	UnitServices               UnitID = 33
	UnitPlanners               UnitID = 34
	UnitExecutiveReports       UnitID = 35
	UnitSettings               UnitID = 36
	UnitUserTokens             UnitID = 37
	UnitPipelines              UnitID = 38
	UnitJobs                   UnitID = 39
	UnitWorkspaces             UnitID = 40
	UnitIntegrationsAuth       UnitID = 41
	UnitTwoFactor              UnitID = 42
	UnitForgotPassword         UnitID = 43
	UnitCredentials            UnitID = 44
	UnitConfig                 UnitID = 45
	UnitWebsockets             UnitID = 46
	UnitBase                   UnitID = 48
	UnitAdmin                  UnitID = 49
	UnitRoles                  UnitID = 50
	UnitTasks                  UnitID = 51
	UnitWsSumReports           UnitID = 52
)

// Unit is a permission unit: its id and name, its group, and the actions it
// has.
type Unit struct {
	ID      UnitID
	Name    string
	Group   string
	GroupID int
	Actions []Action
}

// Has reports whether the unit has action a.
func (u Unit) Has(a Action) bool { return slices.Contains(u.Actions, a) }

// The permission groups of the seed, by id.
var groupNames = map[int]string{
	1: "admin", 2: "all", 3: "integrations", 4: "agents", 5: "analytics", 6: "vulnerabilities",
	7: "comments", 8: "assets", 9: "planners", 10: "executive_reports", 13: "pipelines",
	15: "credentials", 17: "ws_sum_reports",
}

// unitTable is Faraday's fresh-install seed after all migrations
// (faraday-api.md §4.3): id, name, group id, actions (letters C R U D X T),
// and the default grants of admin, asset_owner, pentester and client.
var unitTable = []struct {
	id     UnitID
	name   string
	group  int
	acts   string
	grants [4]string
}{
	{UnitUsers, "users", 1, "CRUD", [4]string{"CRUD", "RU", "RU", "RU"}},
	{UnitLogs, "logs", 1, "R", [4]string{"R", "", "", ""}},
	{UnitTokens, "tokens", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitWhoami, "whoami", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitSwagger, "swagger", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitExploits, "exploits", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitNotifications, "notifications", 2, "CRUD", [4]string{"CRUD", "CRUD", "CRUD", "CRUD"}},
	{UnitInfo, "info", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitPreferences, "preferences", 2, "RC", [4]string{"RC", "RC", "RC", "RC"}},
	{UnitSearchFilters, "search_filters", 2, "RCUD", [4]string{"RCUD", "RCUD", "RCUD", "RCUD"}},
	{UnitTags, "tags", 2, "CRUD", [4]string{"CRUD", "CRUD", "CRUD", "CRUD"}},
	{UnitSessions, "sessions", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitCommands, "commands", 2, "CRUD", [4]string{"CRUD", "CRUD", "CRUD", "CRUD"}},
	{UnitGitLab, "gitlab", 3, "CRUD", [4]string{"CRUD", "", "CRU", ""}},
	{UnitJira, "jira", 3, "CRUD", [4]string{"CRUD", "", "CRU", ""}},
	{UnitServiceDesk, "service_desk", 3, "CRUD", [4]string{"CRUD", "", "CRU", ""}},
	{UnitServiceNow, "service_now", 3, "CRUD", [4]string{"CRUD", "", "CRU", ""}},
	{UnitWebHelpDesk, "web_help_desk", 3, "CRUD", [4]string{"CRUD", "U", "CRU", ""}},
	{UnitActiveIntegrations, "active_integrations", 3, "R", [4]string{"R", "", "R", ""}},
	{UnitAgents, "agents", 4, "CRUDX", [4]string{"CRUDX", "", "CRUX", ""}},
	{UnitAgentsSchedule, "agents_schedule", 4, "CRUDX", [4]string{"CRUDX", "", "", ""}},
	{UnitCloudAgents, "cloud_agents", 4, "CRUDX", [4]string{"CRUDX", "", "CRUX", ""}},
	{UnitCloudAgentsSchedule, "cloud_agents_schedule", 4, "CRUDX", [4]string{"CRUDX", "", "", ""}},
	{UnitAgentsTokens, "agents_tokens", 4, "R", [4]string{"R", "", "", ""}},
	{UnitAnalytics, "analytics", 5, "CRUD", [4]string{"CRUD", "", "", ""}},
	{UnitVulnerabilities, "vulnerabilities", 6, "CRUDT", [4]string{"CRUDT", "RUT", "CRUDT", "R"}},
	{UnitCustomFields, "custom_fields", 6, "CRUD", [4]string{"CRUD", "R", "R", "R"}},
	{UnitVulnerabilityTemplates, "vulnerability_templates", 6, "CRUD", [4]string{"CRUD", "R", "CRUD", "R"}},
	{UnitComments, "comments", 7, "CRUD", [4]string{"CRUD", "CRU", "CRUD", "CR"}},
	{UnitUniqueComment, "unique_comment", 7, "C", [4]string{"C", "C", "C", "C"}},
	{UnitHosts, "hosts", 8, "CRUDT", [4]string{"CRUDT", "RT", "CRUDT", "R"}},
	{UnitServices, "services", 8, "CRUDT", [4]string{"CRUDT", "RT", "CRUDT", "R"}},
	{UnitPlanners, "planners", 9, "CRUD", [4]string{"CRUD", "R", "R", "R"}},
	{UnitExecutiveReports, "executive_reports", 10, "CRUD", [4]string{"CRUD", "R", "CRU", "R"}},
	{UnitSettings, "settings", 1, "CRUD", [4]string{"CRUD", "", "", ""}},
	{UnitUserTokens, "user_tokens", 2, "CRUD", [4]string{"CRUD", "CRUD", "CRUD", "CRUD"}},
	{UnitPipelines, "pipelines", 13, "CRUDX", [4]string{"CRUDX", "", "", ""}},
	{UnitJobs, "jobs", 13, "CRUD", [4]string{"CRUD", "", "", ""}},
	{UnitWorkspaces, "workspaces", 1, "CRUDT", [4]string{"CRUDT", "RT", "RT", "R"}},
	{UnitIntegrationsAuth, "integrations_auth", 3, "RC", [4]string{"RC", "", "", ""}},
	{UnitTwoFactor, "2fa", 2, "CRD", [4]string{"CRD", "CRD", "CRD", "CRD"}},
	{UnitForgotPassword, "forgot_password", 2, "C", [4]string{"C", "C", "C", "C"}},
	{UnitCredentials, "credentials", 15, "CRUD", [4]string{"CRUD", "", "CRUD", ""}},
	{UnitConfig, "config", 2, "R", [4]string{"R", "R", "R", "R"}},
	{UnitWebsockets, "websockets", 2, "CR", [4]string{"CR", "CR", "CR", "CR"}},
	{UnitBase, "base", 1, "CRUD", [4]string{"CRUD", "R", "CRUD", "R"}},
	{UnitAdmin, "admin", 1, "CRUD", [4]string{"CRUD", "", "", ""}},
	{UnitRoles, "roles", 1, "CRUD", [4]string{"CRUD", "", "", ""}},
	{UnitTasks, "tasks", 9, "CRUD", [4]string{"CRUD", "RU", "RU", "RU"}},
	{UnitWsSumReports, "ws_sum_reports", 17, "CRUD", [4]string{"CRUD", "CRUD", "CRUD", "CRUD"}},
}

var actionLetters = map[byte]Action{'C': ActionCreate, 'R': ActionRead, 'U': ActionUpdate, 'D': ActionDelete, 'X': ActionRun, 'T': ActionTag}

func lettersToActions(s string) []Action {
	out := make([]Action, 0, len(s))
	for _, a := range Actions() { // canonical order
		for i := 0; i < len(s); i++ {
			if actionLetters[s[i]] == a {
				out = append(out, a)
			}
		}
	}
	return out
}

var (
	unitsByID   = map[UnitID]Unit{}
	unitsByName = map[string]UnitID{}
	unitOrder   []UnitID
)

func init() {
	for _, row := range unitTable {
		u := Unit{ID: row.id, Name: row.name, Group: groupNames[row.group], GroupID: row.group,
			Actions: lettersToActions(row.acts)}
		unitsByID[row.id] = u
		unitsByName[row.name] = row.id
		unitOrder = append(unitOrder, row.id)
	}
}

// Units returns every permission unit, by id.
func Units() []Unit {
	out := make([]Unit, 0, len(unitOrder))
	for _, id := range unitOrder {
		u := unitsByID[id]
		u.Actions = slices.Clone(u.Actions)
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b Unit) int { return int(a.ID) - int(b.ID) })
	return out
}

// LookupUnit returns the unit with id, and whether there is one.
func LookupUnit(id UnitID) (Unit, bool) {
	u, ok := unitsByID[id]
	u.Actions = slices.Clone(u.Actions)
	return u, ok
}

// UnitByName returns the unit named name ("service_desk", ...), and whether
// there is one.
func UnitByName(name string) (Unit, bool) {
	id, ok := unitsByName[name]
	if !ok {
		return Unit{}, false
	}
	return LookupUnit(id)
}

// String returns the unit's name, or "UnitID(n)" for an unknown id.
func (id UnitID) String() string {
	if u, ok := unitsByID[id]; ok {
		return u.Name
	}
	return fmt.Sprintf("UnitID(%d)", int(id))
}

// ErrInvalidGrant is wrapped by errors about a grant naming an unknown unit
// or an action the unit does not have.
var ErrInvalidGrant = errors.New("faraday: invalid permission grant")

// Grant allows one action on one unit.
type Grant struct {
	Unit   UnitID
	Action Action
}

// String returns "unit:action".
func (g Grant) String() string { return g.Unit.String() + ":" + string(g.Action) }

// Role is a Faraday role with the actions it may take. Its grants are
// immutable; the functions returning default roles return copies, so a
// caller changing a field changes only its copy. Build custom roles with
// NewCustomRole.
type Role struct {
	ID     int
	Name   string
	Weight int
	Custom bool
	grants map[Grant]bool
}

// The ids of the four default roles.
const (
	RoleIDAdmin      = 1
	RoleIDAssetOwner = 2
	RoleIDPentester  = 3
	RoleIDClient     = 4
)

var defaultRoleSpecs = [4]struct {
	id     int
	name   string
	weight int
}{
	{RoleIDAdmin, "admin", 10},
	{RoleIDAssetOwner, "asset_owner", 20},
	{RoleIDPentester, "pentester", 30},
	{RoleIDClient, "client", 40},
}

var defaultRoles [4]*Role

func init() {
	for i, spec := range defaultRoleSpecs {
		r := &Role{ID: spec.id, Name: spec.name, Weight: spec.weight, grants: map[Grant]bool{}}
		for _, row := range unitTable {
			for _, a := range lettersToActions(row.grants[i]) {
				r.grants[Grant{row.id, a}] = true
			}
		}
		defaultRoles[i] = r
	}
}

// DefaultRoles returns admin, asset_owner, pentester and client with the
// grants of Faraday's seed after its migrations (faraday-api.md §4.3, which
// is more precise than the ServiceDesk page's summary). Each call returns
// new copies: changing one changes nothing else.
func DefaultRoles() []*Role {
	out := make([]*Role, len(defaultRoles))
	for i, r := range defaultRoles {
		out[i] = r.copy()
	}
	return out
}

// copy returns a copy of r; the grants map is shared, as nothing writes it
// after the role is built.
func (r *Role) copy() *Role {
	c := *r
	return &c
}

// AdminRole returns the default admin role.
func AdminRole() *Role { return defaultRoles[0].copy() }

// AssetOwnerRole returns the default asset_owner role.
func AssetOwnerRole() *Role { return defaultRoles[1].copy() }

// PentesterRole returns the default pentester role.
func PentesterRole() *Role { return defaultRoles[2].copy() }

// ClientRole returns the default client role.
func ClientRole() *Role { return defaultRoles[3].copy() }

// DefaultRole returns (a copy of) the default role with name ("admin",
// "asset_owner", "pentester", "client", compared without case and
// surrounding space), and whether there is one.
func DefaultRole(name string) (*Role, bool) {
	name = strings.TrimSpace(name)
	for _, r := range defaultRoles {
		if strings.EqualFold(r.Name, name) {
			return r.copy(), true
		}
	}
	return nil, false
}

// NewCustomRole returns a custom role allowed exactly grants. Every grant
// must name a known unit and an action that unit has; otherwise the error
// (wrapping ErrInvalidGrant) lists every bad grant.
func NewCustomRole(id int, name string, weight int, grants ...Grant) (*Role, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%w: custom role %d has no name", ErrInvalidGrant, id)
	}
	r := &Role{ID: id, Name: name, Weight: weight, Custom: true, grants: make(map[Grant]bool, len(grants))}
	var bad []string
	for _, g := range grants {
		u, ok := unitsByID[g.Unit]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("unknown unit %d", int(g.Unit)))
		case !u.Has(g.Action):
			bad = append(bad, fmt.Sprintf("unit %s has no action %s", u.Name, quoteValue(string(g.Action))))
		default:
			r.grants[g] = true
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: role %s: %s", ErrInvalidGrant, quoteValue(name), strings.Join(bad, "; "))
	}
	return r, nil
}

// Grants returns the role's grants ordered by unit id and action.
func (r *Role) Grants() []Grant {
	out := make([]Grant, 0, len(r.grants))
	for g := range r.grants {
		out = append(out, g)
	}
	order := map[Action]int{}
	for i, a := range Actions() {
		order[a] = i
	}
	slices.SortFunc(out, func(a, b Grant) int {
		if a.Unit != b.Unit {
			return int(a.Unit) - int(b.Unit)
		}
		return order[a.Action] - order[b.Action]
	})
	return out
}

// Allowed reports whether the role may take action on unit. A nil role may
// do nothing.
func (r *Role) Allowed(unit UnitID, action Action) bool {
	return r != nil && r.grants[Grant{unit, action}]
}

// Allowed reports whether role may take action on unit.
func Allowed(role *Role, unit UnitID, action Action) bool { return role.Allowed(unit, action) }
