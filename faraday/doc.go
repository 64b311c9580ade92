// Package faraday holds the Faraday side of the integration: vulnerability,
// severity and status types, the issue-tracker column, user tokens and the
// token store, permissions, the vuln ↔ ticket link store, a small client for
// Faraday's REST API v3 and a reader for Faraday's CSV export.
//
// The package never imports the ServiceDesk client; package mapping is the
// only place where both sides meet.
package faraday
