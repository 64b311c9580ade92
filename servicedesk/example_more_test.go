package servicedesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/vulndesk/mesd/servicedesk"
)

func ExampleUsersService_Find() {
	// A stand-in SDP with two users called Jane Doe.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false},"users":[
			{"id":"7","name":"Jane Doe","login_name":"jdoe","email_id":"jane@example.com"},
			{"id":"9","name":"Jane Doe","login_name":"jdoe2","email_id":"jane.doe@example.org"}]}`)
	}))
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	u, err := c.Users.Find(ctx, "jdoe") // a login name names one user
	fmt.Println(u.ID, u.Name, u.EmailID, err)

	_, err = c.Users.Find(ctx, "Jane Doe") // a display name may not
	var amb *servicedesk.AmbiguousError
	if errors.As(err, &amb) {
		for _, cand := range amb.Candidates {
			fmt.Println("candidate:", cand.LoginName, cand.EmailID)
		}
	}
	fmt.Println(errors.Is(err, servicedesk.ErrAmbiguous))
	// Output:
	// 7 Jane Doe jane@example.com <nil>
	// candidate: jdoe jane@example.com
	// candidate: jdoe2 jane.doe@example.org
	// true
}

func ExampleRequestsService_CreateOnce() {
	// A stand-in SDP that stores subjects and searches them.
	var mu sync.Mutex
	var subjects []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			var in struct {
				Request struct{ Subject string } `json:"request"`
			}
			_ = json.Unmarshal([]byte(r.FormValue("input_data")), &in)
			subjects = append(subjects, in.Request.Subject)
			w.WriteHeader(http.StatusCreated)
			_, _ = fmt.Fprintf(w, `{"request":{"id":"%d","subject":%q},"response_status":{"status_code":2000,"status":"success"}}`, len(subjects), in.Request.Subject)
			return
		}
		var q struct {
			ListInfo struct {
				SearchCriteria struct{ Value string } `json:"search_criteria"`
			} `json:"list_info"`
		}
		_ = json.Unmarshal([]byte(r.URL.Query().Get("input_data")), &q)
		var rows []string
		for i, s := range subjects {
			if strings.Contains(s, q.ListInfo.SearchCriteria.Value) {
				rows = append(rows, fmt.Sprintf(`{"id":"%d","subject":%q}`, i+1, s))
			}
		}
		_, _ = fmt.Fprintf(w, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false},"requests":[%s]}`, strings.Join(rows, ","))
	}))
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}

	const tag = "[FRD acme/42]" // workspace and vuln id, closed by a delimiter
	in := &servicedesk.RequestInput{Subject: tag + " Outdated TLS configuration"}
	for range 2 {
		r, created, err := c.Requests.CreateOnce(context.Background(), tag, in)
		fmt.Println(r.ID, created, err)
	}
	// Output:
	// 1 true <nil>
	// 1 false <nil>
}

func ExampleNewZohoTokenSource() {
	// Stand-ins for the Zoho accounts server and an SDP Cloud portal.
	accounts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/v2/token" || r.FormValue("grant_type") != "refresh_token" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprint(w, `{"access_token":"1000.fresh","api_domain":"https://www.zohoapis.com","token_type":"Bearer","expires_in":3600}`)
	}))
	defer accounts.Close()
	sdp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Zoho-oauthtoken 1000.fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = fmt.Fprintf(w, `{"request":{"id":"123640000000240013","display_id":"102","subject":"VPN down"},"response_status":{"status_code":2000,"status":"success"}}`)
	}))
	defer sdp.Close()

	src, err := servicedesk.NewZohoTokenSource(servicedesk.ZohoConfig{
		ClientID:     "1000.CLIENTID",
		ClientSecret: "client-secret",
		RefreshToken: "1000.refresh-token",
		DataCentre:   servicedesk.DataCentreEU,
		AccountsURL:  accounts.URL, // only for this example: the EU server otherwise
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(servicedesk.DataCentreEU.AccountsURL(), servicedesk.DataCentreEU.APIDomain())

	c, err := servicedesk.NewClient(sdp.URL, servicedesk.WithCloudPortal("itdesk"),
		servicedesk.WithAuthenticator(src), servicedesk.WithHTTPClient(sdp.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := c.Requests.Get(context.Background(), "123640000000240013")
	if err != nil {
		fmt.Println(err)
		return
	}
	link, _ := c.RequestURL(r.ID)
	fmt.Println(r.DisplayID, r.Subject, strings.TrimPrefix(link, sdp.URL))
	// Output:
	// https://accounts.zoho.eu https://sdpondemand.manageengine.eu
	// 102 VPN down /app/itdesk/ui/requests/123640000000240013/details
}

func ExampleClient_Ping() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = fmt.Fprint(w, "<html><body>Log in to ServiceDesk Plus</body></html>")
	}))
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.Ping(context.Background())
	switch {
	case err == nil:
		fmt.Println("connected")
	case errors.Is(err, servicedesk.ErrLoginPage):
		fmt.Println("login page: check the URL")
	case errors.Is(err, servicedesk.ErrUnauthorized):
		fmt.Println("wrong token")
	case errors.Is(err, servicedesk.ErrWrongURL), errors.Is(err, servicedesk.ErrUnreachable):
		fmt.Println("check the URL and the network")
	}
	// Output: login page: check the URL
}

func ExampleClient_RequestURL() {
	c, _ := servicedesk.NewClient("https://sdp.example.com:8080", servicedesk.WithAuthToken("0A1B2C3D"))
	link, _ := c.RequestURL("71")
	fmt.Println(link)
	// Output: https://sdp.example.com:8080/WorkOrder.do?woMode=viewWO&woID=71
}

func ExampleMandatoryFieldCache() {
	srv := exampleServer() // its template makes udf_sline_301 mandatory
	defer srv.Close()
	c, _ := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	var mandatory servicedesk.MandatoryFieldCache
	_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{
		Subject:  "[FRD acme/42] Outdated TLS configuration",
		Template: &servicedesk.TemplateRef{ID: "301"},
	})
	fmt.Println(mandatory.Learn("301", err))
	fmt.Println(mandatory.Missing("301", []string{"subject", "priority"}))
	// Output:
	// [udf_fields.udf_sline_301]
	// [udf_fields.udf_sline_301]
}

func ExampleLookupService_All() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"row_count":3},
			"statuses":[{"id":"1","name":"Open","in_progress":true,"internal_name":"Open"},
			{"id":"3","name":"On Hold","in_progress":true,"internal_name":"Onhold","stop_timer":true},
			{"id":"4","name":"Closed","internal_name":"Closed"}]}`)
	}))
	defer srv.Close()
	c, _ := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	for s, err := range c.Statuses.All(context.Background(), nil) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s (%s) in progress %t, timer stopped %t\n", s.Name, s.InternalName, s.InProgress, s.StopTimer)
	}
	// Output:
	// Open (Open) in progress true, timer stopped false
	// On Hold (Onhold) in progress true, timer stopped true
	// Closed (Closed) in progress false, timer stopped false
}

func ExampleTemplatesService_Get() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, `{"request_template":{"id":"301","name":"Security finding","inactive":false,
			"layouts":[{"id":"71","sections":[{"id":"81","name":"Details","fields":[
				{"name":"subject","scopings":[{"scope":"requester","access":"editable"}]},
				{"name":"udf_fields.txt_cve","display_order":2}]}]}]},
			"response_status":{"status_code":2000,"status":"success"}}`)
	}))
	defer srv.Close()
	c, _ := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	tpl, err := c.Templates.Get(context.Background(), "301")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tpl.Name, tpl.Fields())
	// Keys the client does not model stay available, raw.
	fmt.Println(string(tpl.Layouts[0].Sections[0].Fields[1].Extra["display_order"]))
	// Output:
	// Security finding [subject udf_fields.txt_cve]
	// 2
}
