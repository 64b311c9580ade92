package faraday

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/internal/testutil"
)

// TestDefaultGrantsByHand checks cells of faraday-api.md §4.3 copied by
// hand, the integration rows in full.
func TestDefaultGrantsByHand(t *testing.T) {
	type cell struct {
		role   *Role
		unit   UnitID
		action Action
		want   bool
	}
	admin, owner, pentester, client := AdminRole(), AssetOwnerRole(), PentesterRole(), ClientRole()
	var cells []cell
	add := func(r *Role, u UnitID, allowed string, actions ...Action) {
		for _, a := range actions {
			cells = append(cells, cell{r, u, a, strings.Contains(allowed, string(a))})
		}
	}
	crud := []Action{ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionRun, ActionTag}
	// service_desk 16: admin CRUD, asset_owner -, pentester CRU, client -.
	add(admin, UnitServiceDesk, "create read update delete", crud...)
	add(owner, UnitServiceDesk, "", crud...)
	add(pentester, UnitServiceDesk, "create read update", crud...)
	add(client, UnitServiceDesk, "", crud...)
	// active_integrations 19: R for admin and pentester only.
	add(admin, UnitActiveIntegrations, "read", crud...)
	add(owner, UnitActiveIntegrations, "", crud...)
	add(pentester, UnitActiveIntegrations, "read", crud...)
	add(client, UnitActiveIntegrations, "", crud...)
	// integrations_auth 41: R C for admin only.
	add(admin, UnitIntegrationsAuth, "read create", crud...)
	add(owner, UnitIntegrationsAuth, "", crud...)
	add(pentester, UnitIntegrationsAuth, "", crud...)
	add(client, UnitIntegrationsAuth, "", crud...)
	// vulnerabilities 26: CRUDT, RUT, CRUDT, R.
	add(admin, UnitVulnerabilities, "create read update delete tag", crud...)
	add(owner, UnitVulnerabilities, "read update tag", crud...)
	add(pentester, UnitVulnerabilities, "create read update delete tag", crud...)
	add(client, UnitVulnerabilities, "read", crud...)
	// web_help_desk 18: asset_owner may only update.
	add(owner, UnitWebHelpDesk, "update", crud...)
	// user_tokens 37: every role CRUD.
	for _, r := range []*Role{admin, owner, pentester, client} {
		add(r, UnitUserTokens, "create read update delete", crud...)
	}
	// workspaces 40: asset_owner and pentester RT (update removed).
	add(owner, UnitWorkspaces, "read tag", crud...)
	add(pentester, UnitWorkspaces, "read tag", crud...)
	// agents 20: pentester CRUX, not delete.
	add(pentester, UnitAgents, "create read update run", crud...)
	// tasks 51: non-admins RU.
	add(client, UnitTasks, "read update", crud...)
	for _, c := range cells {
		if got := Allowed(c.role, c.unit, c.action); got != c.want {
			t.Errorf("Allowed(%s, %s, %s) = %v; want %v", c.role.Name, c.unit, c.action, got, c.want)
		}
	}
	// Removed units and unknown actions are never allowed.
	if Allowed(admin, 27, ActionCreate) || Allowed(admin, 47, ActionRead) || Allowed(admin, UnitServiceDesk, "approve") || Allowed(nil, UnitServiceDesk, ActionRead) {
		t.Error("something outside the table is allowed")
	}
}

func TestUnitsByHand(t *testing.T) {
	want := map[UnitID]string{16: "service_desk", 19: "active_integrations", 41: "integrations_auth", 26: "vulnerabilities", 37: "user_tokens", 42: "2fa", 52: "ws_sum_reports"}
	for id, name := range want {
		u, ok := LookupUnit(id)
		if !ok || u.Name != name {
			t.Errorf("unit %d = %q, %v; want %q", id, u.Name, ok, name)
		}
		if byName, ok := UnitByName(name); !ok || byName.ID != id {
			t.Errorf("UnitByName(%q) = %d", name, byName.ID)
		}
	}
	if u, _ := LookupUnit(UnitServiceDesk); u.Group != "integrations" || u.GroupID != 3 || len(u.Actions) != 4 || u.Has(ActionRun) {
		t.Errorf("service_desk = %+v", u)
	}
	if u, _ := LookupUnit(UnitIntegrationsAuth); !u.Has(ActionRead) || !u.Has(ActionCreate) || u.Has(ActionUpdate) {
		t.Errorf("integrations_auth actions = %v", u.Actions)
	}
	units := Units()
	if len(units) != 50 { // ids 1..52 without 27 and 47
		t.Errorf("%d units; want 50", len(units))
	}
	for _, id := range []UnitID{27, 47, 0, 53} {
		if _, ok := LookupUnit(id); ok {
			t.Errorf("unit %d exists", id)
		}
	}
	roles := DefaultRoles()
	wantRoles := []struct {
		id     int
		name   string
		weight int
	}{{1, "admin", 10}, {2, "asset_owner", 20}, {3, "pentester", 30}, {4, "client", 40}}
	for i, w := range wantRoles {
		if roles[i].ID != w.id || roles[i].Name != w.name || roles[i].Weight != w.weight || roles[i].Custom {
			t.Errorf("role %d = %+v", i, roles[i])
		}
		if r, ok := DefaultRole(w.name); !ok || r.ID != w.id {
			t.Errorf("DefaultRole(%q) = %v", w.name, r)
		}
	}
}

// TestDefaultGrantsMatchReference reads the table of faraday-api.md §4.3 at
// run time and compares every cell with the package's grants.
func TestDefaultGrantsMatchReference(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join(testutil.SharedDir(t), "reference", "faraday-api.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(ref, []byte("### 4.3"))
	if start < 0 {
		t.Fatal("faraday-api.md has no section 4.3")
	}
	row := regexp.MustCompile(`^\|\s*\**(\d+)\**\s*\|\s*\**([a-z0-9_]+)\**\s*\|\s*([a-z_]+) \((\d+)\)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|`)
	letters := map[rune]Action{'C': ActionCreate, 'R': ActionRead, 'U': ActionUpdate, 'D': ActionDelete, 'X': ActionRun, 'T': ActionTag}
	parse := func(cell string, all []Action) map[Action]bool {
		cell = strings.TrimSpace(strings.ReplaceAll(cell, "*", ""))
		if i := strings.Index(cell, "["); i >= 0 {
			cell = cell[:i]
		}
		out := map[Action]bool{}
		switch strings.TrimSpace(cell) {
		case "-":
			return out
		case "all":
			for _, a := range all {
				out[a] = true
			}
			return out
		}
		for _, r := range cell {
			if a, ok := letters[r]; ok {
				out[a] = true
			} else if r != ' ' {
				t.Fatalf("unexpected letter %q in %q", r, cell)
			}
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(ref[start:]))
	rows := 0
	roles := DefaultRoles()
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "### ") && rows > 0 {
			break
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		id, _ := strconv.Atoi(m[1])
		u, ok := LookupUnit(UnitID(id))
		if !ok {
			t.Errorf("unit %d %s is missing", id, m[2])
			continue
		}
		gid, _ := strconv.Atoi(m[4])
		if u.Name != m[2] || u.Group != m[3] || u.GroupID != gid {
			t.Errorf("unit %d = %s/%s(%d); reference %s/%s(%d)", id, u.Name, u.Group, u.GroupID, m[2], m[3], gid)
		}
		actions := parse(m[5], nil)
		if len(actions) != len(u.Actions) {
			t.Errorf("unit %s actions %v; reference %v", u.Name, u.Actions, actions)
		}
		for _, a := range u.Actions {
			if !actions[a] {
				t.Errorf("unit %s has %s; reference does not", u.Name, a)
			}
		}
		for i, r := range roles {
			granted := parse(m[6+i], u.Actions)
			for _, a := range Actions() {
				if got := r.Allowed(u.ID, a); got != granted[a] {
					t.Errorf("%s on %s:%s = %v; reference %v", r.Name, u.Name, a, got, granted[a])
				}
			}
		}
	}
	if rows != len(Units()) {
		t.Errorf("reference has %d unit rows; package has %d units", rows, len(Units()))
	}
}

func TestCustomRole(t *testing.T) {
	r, err := NewCustomRole(7, "sdp-bot", 50,
		Grant{UnitServiceDesk, ActionRead}, Grant{UnitServiceDesk, ActionUpdate}, Grant{UnitVulnerabilities, ActionUpdate})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Custom || !Allowed(r, UnitServiceDesk, ActionUpdate) || Allowed(r, UnitServiceDesk, ActionDelete) || Allowed(r, UnitUserTokens, ActionRead) {
		t.Errorf("custom role grants wrong: %v", r.Grants())
	}
	if g := r.Grants(); len(g) != 3 || g[0] != (Grant{UnitServiceDesk, ActionRead}) || g[2].Unit != UnitVulnerabilities {
		t.Errorf("Grants() = %v", g)
	}
	_, err = NewCustomRole(8, "bad", 1, Grant{UnitServiceDesk, ActionRun}, Grant{27, ActionRead}, Grant{UnitHosts, ActionTag})
	if !errors.Is(err, ErrInvalidGrant) || !strings.Contains(err.Error(), "service_desk has no action \"run\"") || !strings.Contains(err.Error(), "unknown unit 27") {
		t.Errorf("bad grants error = %v", err)
	}
	if _, err := NewCustomRole(9, " ", 1); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("empty name = %v", err)
	}
}
