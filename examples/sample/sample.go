// Package sample holds the sample data the example programs ship with: a
// Faraday workspace of vulnerabilities written for the examples (every
// severity, confirmed and unconfirmed, web and host vulns, text with quotes,
// '<', '&' and non-ASCII) and a mapping configuration that is valid against
// the catalogue of the fake ServiceDesk Plus in package sdptest (priorities
// Low, Medium, High, Urgent; statuses Open, In Progress, On Hold, Resolved,
// Closed, Canceled; its two templates).
//
// Both files are embedded, so the programs run from any directory; they are
// also plain files beside this one (vulns.json, config.json) to read and copy.
package sample

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/vulndesk/mesd/faraday"
)

// Workspace is the Faraday workspace the sample vulns belong to.
const Workspace = "acme"

//go:embed vulns.json
var vulnsJSON []byte

//go:embed config.json
var configJSON []byte

// ConfigJSON returns a copy of the sample mapping configuration (config.json).
func ConfigJSON() []byte { return bytes.Clone(configJSON) }

// Vulns returns the sample vulns (vulns.json), in file order, with their
// workspace set to Workspace.
func Vulns() ([]faraday.Vuln, error) {
	var vs []faraday.Vuln
	if err := json.Unmarshal(vulnsJSON, &vs); err != nil {
		return nil, fmt.Errorf("sample: vulns.json: %w", err)
	}
	for i := range vs {
		vs[i].WorkspaceName = Workspace
	}
	return vs, nil
}
