package servicedesk

import "strings"

// RequestURL returns the address of the request's page in SDP's web UI:
// <base>/WorkOrder.do?woMode=viewWO&woID=<id> on-premises and
// <base>/app/<portal>/ui/requests/<id>/details on SDP Cloud, where id is
// the request's ID (on cloud the long id, not the DisplayID users see).
// <base> is the client's base URL without the API path.
func (c *Client) RequestURL(id ID) (string, error) {
	if err := checkRequestID(id); err != nil {
		return "", err
	}
	u := *c.base
	root := strings.TrimSuffix(u.Path, "api/v3/")
	u.RawQuery, u.Fragment = "", ""
	if c.edition == Cloud {
		// root ends in /app/<portal>/.
		u.Path = root + "ui/requests/" + string(id) + "/details"
		return u.String(), nil
	}
	u.Path = root + "WorkOrder.do"
	u.RawQuery = "woMode=viewWO&woID=" + string(id) // id is digits only
	return u.String(), nil
}
