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

type fakeUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Login string `json:"login_name"`
	Email string `json:"email_id"`
}

var directory = []fakeUser{
	{"1", "Jane Doe", "jdoe", "jane@example.com"},
	{"2", "Jane Doe", "jdoe2", "jane.doe@example.org"},
	{"3", "Bob Stone", "bob", "bob@example.com"},
	{"4", "bob", "rstone", "rs@example.com"}, // display name equal to another's login
	{"5", "Alice Martin", "amartin", "alice@example.com"},
	{"6", "Alice Martinez", "amartinez", "alicem@example.com"},
}

// userSearch serves the directory, applying the search_criteria the client
// sends (login_name is, email_id is, name contains; joined by or), and
// checks that the criteria are exactly those.
func userSearch(t *testing.T, users []fakeUser) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		li := listInfo(t, r.URL)
		crit, _ := li["search_criteria"].([]any)
		if len(crit) != 3 {
			t.Errorf("search_criteria = %v, want 3 criteria", li["search_criteria"])
			return sdpJSON(400, failed(4001, "bad"))(r)
		}
		var q string
		want := []struct{ field, cond, op string }{{"login_name", "is", ""}, {"email_id", "is", "or"}, {"name", "contains", "or"}}
		for i, c := range crit {
			m := c.(map[string]any)
			if m["field"] != want[i].field || m["condition"] != want[i].cond || (m["logical_operator"] != nil && m["logical_operator"] != want[i].op) {
				t.Errorf("criterion %d = %v, want %+v", i, m, want[i])
			}
			q, _ = m["value"].(string)
		}
		var rows []string
		lq := strings.ToLower(q)
		for _, u := range users {
			if strings.EqualFold(u.Login, q) || strings.EqualFold(u.Email, q) || strings.Contains(strings.ToLower(u.Name), lq) {
				b, _ := json.Marshal(u)
				rows = append(rows, string(b))
			}
		}
		return sdpJSON(200, fmt.Sprintf(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"row_count":%d},"users":[%s]}`,
			len(rows), strings.Join(rows, ",")))(r)
	}
}

func TestUsersFind(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"users", userSearch(t, directory))
	ctx := context.Background()
	for _, tc := range []struct{ who, wantID string }{
		{"jdoe", "1"},               // login name
		{" JDOE2 ", "2"},            // login name, any case, spaces trimmed
		{"jane@example.com", "1"},   // email
		{"Bob Stone", "3"},          // display name, unique
		{"bob", "3"},                // login name wins over user 4's display name
		{"alice martin", "5"},       // exact display name, though "Alice Martinez" contains it
		{"ALICE@example.com", "5"},  // email any case
		{"alicem@example.com", "6"}, // email
	} {
		u, err := c.Users.Find(ctx, tc.who)
		if err != nil {
			t.Errorf("Find(%q): %v", tc.who, err)
			continue
		}
		if string(u.ID) != tc.wantID {
			t.Errorf("Find(%q) = user %s (%s), want %s", tc.who, u.ID, u.Name, tc.wantID)
		}
	}
}

func TestUsersFindAmbiguousNeverPicksTheFirst(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"users", userSearch(t, directory))
	u, err := c.Users.Find(context.Background(), "Jane Doe")
	if u != nil {
		t.Fatalf("Find returned user %s for an ambiguous name", u.ID)
	}
	if !errors.Is(err, servicedesk.ErrAmbiguous) {
		t.Fatalf("error %v, want ErrAmbiguous", err)
	}
	var ae *servicedesk.AmbiguousError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T, want *AmbiguousError", err)
	}
	if ae.Query != "Jane Doe" || ae.MatchedBy != "name" || len(ae.Candidates) != 2 || ae.Candidates[0].ID != "1" || ae.Candidates[1].ID != "2" {
		t.Fatalf("AmbiguousError = %+v", ae)
	}
	for _, want := range []string{"jdoe", "jdoe2", "jane@example.com", "jane.doe@example.org", "2 users"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestUsersFindNotFound(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"users", userSearch(t, directory))
	_, err := c.Users.Find(context.Background(), "Mart")
	if !errors.Is(err, servicedesk.ErrUserNotFound) || !errors.Is(err, servicedesk.ErrNotFound) {
		t.Fatalf("error %v, want ErrUserNotFound and ErrNotFound", err)
	}
	var nf *servicedesk.UserNotFoundError
	if !errors.As(err, &nf) || len(nf.Near) != 2 || !strings.Contains(err.Error(), "Alice Martinez") {
		t.Fatalf("error %v: want the two near matches", err)
	}
	if _, err := c.Users.Find(context.Background(), "  "); err == nil || !strings.Contains(err.Error(), "empty user name") {
		t.Fatalf("empty name: %v", err)
	}
}

func TestTechniciansFind(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"technicians", func(r *http.Request) (*http.Response, error) {
		resp, err := userSearch(t, directory)(r)
		if err != nil {
			return nil, err
		}
		// Same rows under the technicians key.
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		m["technicians"] = m["users"]
		delete(m, "users")
		b, _ := json.Marshal(m)
		return sdpJSON(200, string(b))(r)
	})
	u, err := c.Technicians.Find(context.Background(), "amartinez")
	if err != nil || u.ID != "6" || u.LoginName != "amartinez" || u.EmailID != "alicem@example.com" {
		t.Fatalf("Find = %+v, %v", u, err)
	}
}

func TestUsersFindPassesSDPErrorsThrough(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"users", sdpJSON(401, failed(4022, "Invalid API key")))
	if _, err := c.Users.Find(context.Background(), "jdoe"); !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("error %v, want ErrUnauthorized", err)
	}
}
