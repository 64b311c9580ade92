package servicedesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"golang.org/x/time/rate"
)

// exampleServer stands in for an SDP instance in the examples: it answers
// the calls they make with hand-written SDP bodies.
func exampleServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v3/requests", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Request struct {
				Subject   string            `json:"subject"`
				UDFFields map[string]string `json:"udf_fields"`
			} `json:"request"`
		}
		_ = json.Unmarshal([]byte(r.FormValue("input_data")), &in)
		if in.Request.UDFFields["udf_sline_301"] == "" { // the template makes this field mandatory
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4012,"type":"failed","fields":["udf_fields.udf_sline_301"]}]}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"request":{"id":"101","subject":%q,"status":{"id":"2","name":"Open"},"created_time":{"value":"1764750000000","display_value":"Dec 3, 2025 08:20 AM"}},"response_status":{"status_code":2000,"status":"success"}}`, in.Request.Subject)
	})
	mux.HandleFunc("GET /api/v3/requests", func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			ListInfo struct {
				StartIndex int `json:"start_index"`
			} `json:"list_info"`
		}
		_ = json.Unmarshal([]byte(r.URL.Query().Get("input_data")), &q)
		pages := map[int]string{
			1: `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":true,"start_index":1,"row_count":2},"requests":[{"id":"11","subject":"[FRD acme/1] XSS"},{"id":"12","subject":"[FRD acme/2] SQLi"}]}`,
			3: `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"start_index":3,"row_count":1},"requests":[{"id":"13","subject":"[FRD acme/3] SSRF"}]}`,
		}
		_, _ = fmt.Fprint(w, pages[q.ListInfo.StartIndex])
	})
	mux.HandleFunc("PUT /api/v3/requests/{id}/close", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprint(w, `{"response_status":{"status_code":4000,"messages":[{"status_code":4001,"type":"failed","message":"Request is already closed"}],"status":"failed"}}`)
	})
	mux.HandleFunc("GET /api/v3/requests/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprint(w, `{"response_status":{"status_code":4000,"messages":[{"status_code":4007,"type":"failed","message":"Invalid URL"}],"status":"failed"}}`)
	})
	return httptest.NewServer(mux)
}

// zohoToken is the smallest Authenticator: a fixed SDP Cloud access token.
// A real one renews the token and implements Reauthenticator.
type zohoToken string

func (z zohoToken) Authenticate(r *http.Request) error {
	r.Header.Set("Authorization", "Zoho-oauthtoken "+string(z))
	return nil
}

func ExampleNewClient() {
	c, err := servicedesk.NewClient("https://sdp.example.com:8080",
		servicedesk.WithAuthToken("0A1B2C3D-TECHNICIAN-KEY"),
		servicedesk.WithPortalID("1"),
		servicedesk.WithRateLimit(rate.Limit(5), 5),
		servicedesk.WithRetry(3, 500*time.Millisecond, 10*time.Second),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.BaseURL(), c.Edition())

	_, err = servicedesk.NewClient("sdp.example.com", servicedesk.WithAuthToken("k"))
	fmt.Println(err)
	// Output:
	// https://sdp.example.com:8080/api/v3/ on-premises
	// servicedesk: base URL "sdp.example.com" is not absolute: want scheme://host[:port]
}

func ExampleWithCloudPortal() {
	var oauth servicedesk.Authenticator = zohoToken("1000.access-token") // an OAuth source in real code
	c, err := servicedesk.NewClient("https://sdpondemand.manageengine.eu",
		servicedesk.WithCloudPortal("itdesk"),
		servicedesk.WithAuthenticator(oauth))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.BaseURL(), c.Edition())
	// Output: https://sdpondemand.manageengine.eu/app/itdesk/api/v3/ cloud
}

func ExampleRequestsService_Create() {
	srv := exampleServer()
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{
		Subject:     "[FRD acme/42] Outdated TLS configuration",
		Description: "<p>Found by Faraday.</p>",
		Priority:    &servicedesk.Ref{Name: "High"},
		Requester:   &servicedesk.UserRef{EmailID: "security@example.com"},
		UDFFields:   map[string]any{"udf_sline_301": "CVE-2024-3596"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.ID, r.Status.Name, r.CreatedTime.Time().Format(time.RFC3339))
	// Output: 101 Open 2025-12-03T08:20:00Z
}

func ExampleRequestsService_All() {
	srv := exampleServer()
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := &servicedesk.ListOptions{
		RowCount: 2,
		SearchCriteria: []servicedesk.Criterion{
			{Field: "subject", Condition: servicedesk.Contains, Value: "[FRD acme/"},
			{Field: "status.name", Condition: servicedesk.IsNot, Value: "Closed", LogicalOperator: servicedesk.And},
		},
	}
	for r, err := range c.Requests.All(context.Background(), opts) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(r.ID, r.Subject)
	}
	// Output:
	// 11 [FRD acme/1] XSS
	// 12 [FRD acme/2] SQLi
	// 13 [FRD acme/3] SSRF
}

func ExampleError() {
	srv := exampleServer()
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Requests.Get(context.Background(), "999")
	fmt.Println(errors.Is(err, servicedesk.ErrNotFound))

	// The template makes a field mandatory: SDP answers 4012 naming it.
	_, err = c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "[FRD acme/43] Open redirect"})
	var se *servicedesk.Error
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, servicedesk.ErrMandatoryField), se.HTTPStatus, se.Codes(), se.Fields())
	}
	fmt.Println(err)

	// Bad arguments are refused before any I/O.
	_, err = c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: " "})
	fmt.Println(err)
	// Output:
	// true
	// true 400 [4012] [udf_fields.udf_sline_301]
	// servicedesk: POST /api/v3/requests: HTTP 400 Bad Request: 4012 fields ["udf_fields.udf_sline_301"]
	// servicedesk: request.subject is empty: SDP requires a subject
}

func ExampleRequestsService_Close() {
	srv := exampleServer()
	defer srv.Close()
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken("0A1B2C3D"), servicedesk.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.Requests.Close(context.Background(), "101", &servicedesk.ClosureInfo{
		ClosureCode:     &servicedesk.Ref{Name: "Success"},
		ClosureComments: "Vulnerability closed in Faraday",
	})
	// Someone closed it first. (Had this been the answer to a retry of our
	// own close, Close would have returned nil.)
	fmt.Println(errors.Is(err, servicedesk.ErrAlreadyClosed))
	fmt.Println(err)
	// Output:
	// true
	// servicedesk: PUT /api/v3/requests/101/close: HTTP 400 Bad Request: 4001 "Request is already closed"
}
