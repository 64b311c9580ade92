package servicedesk_test

import (
	"strings"
	"testing"

	"github.com/vulndesk/mesd/servicedesk"
)

func TestRequestURL(t *testing.T) {
	t.Parallel()
	auth := &fakeOAuth{token: "a1"}
	for _, tc := range []struct {
		base string
		opts []servicedesk.Option
		id   servicedesk.ID
		want string
	}{
		{"https://sdp.example.com:8080", []servicedesk.Option{servicedesk.WithAuthToken(testToken)}, "71",
			"https://sdp.example.com:8080/WorkOrder.do?woMode=viewWO&woID=71"},
		{"https://sdp.example.com/api/v3/", []servicedesk.Option{servicedesk.WithAuthToken(testToken)}, "71",
			"https://sdp.example.com/WorkOrder.do?woMode=viewWO&woID=71"},
		{"https://example.com/helpdesk", []servicedesk.Option{servicedesk.WithAuthToken(testToken)}, "5",
			"https://example.com/helpdesk/WorkOrder.do?woMode=viewWO&woID=5"},
		{"https://sdpondemand.manageengine.com", []servicedesk.Option{servicedesk.WithCloudPortal("itdesk"), servicedesk.WithAuthenticator(auth)}, "123640000000240013",
			"https://sdpondemand.manageengine.com/app/itdesk/ui/requests/123640000000240013/details"},
		{"https://helpdesk.example.com/app/itdesk/api/v3", []servicedesk.Option{servicedesk.WithCloudPortal("itdesk"), servicedesk.WithAuthenticator(auth)}, "123640000000240013",
			"https://helpdesk.example.com/app/itdesk/ui/requests/123640000000240013/details"},
	} {
		c, err := servicedesk.NewClient(tc.base, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.RequestURL(tc.id)
		if err != nil || got != tc.want {
			t.Errorf("%s: RequestURL(%s) = %q, %v; want %q", tc.base, tc.id, got, err, tc.want)
		}
	}
	c, _ := servicedesk.NewClient("https://sdp.example.com", servicedesk.WithAuthToken(testToken))
	for _, bad := range []servicedesk.ID{"", "7 1", "../x", "71?a=b"} {
		if _, err := c.RequestURL(bad); err == nil || !strings.Contains(err.Error(), "invalid request id") {
			t.Errorf("RequestURL(%q) error %v", bad, err)
		}
	}
}
