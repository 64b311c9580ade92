// Package mapping turns Faraday vulnerabilities into ServiceDesk Plus
// requests and ServiceDesk statuses back into Faraday statuses.
//
// Everything here is a pure function of its arguments: the configuration
// (loaded from JSON with unknown keys rejected, validated with every problem
// reported at once under its JSON path), severity → priority, the status maps
// in both directions (including Ignore), template fields (Dropdown, Search and
// Raw/JSON), and the vuln → request conversion. The package does no I/O; the
// instance catalogue a configuration is checked against is passed in as a
// value.
package mapping
