package faraday

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidExport is matched (errors.Is) by every error of the CSV export
// reader: a header it cannot use and each malformed row (*RowError).
var ErrInvalidExport = errors.New("faraday: invalid CSV export")

// RowError reports one malformed row (or, for values checked after a merge,
// the row that held the bad value) of a CSV export. The reader goes on after
// it: call Next again.
type RowError struct {
	Line   int    // 1-based line where the row starts
	ID     string // the row's id column, when it could be read
	Column string // the column at fault, when one is
	Err    error
}

// Error names the line, the id and the column.
func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faraday: CSV export line %d", e.Line)
	if e.ID != "" {
		fmt.Fprintf(&b, " (id %s)", quoteValue(e.ID))
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// Is makes every RowError match ErrInvalidExport.
func (e *RowError) Is(target error) bool { return target == ErrInvalidExport }

// ExportRecord is one vulnerability read from a CSV export, with what the
// export says beside the vuln.
type ExportRecord struct {
	// Vuln holds the columns that have a place in the API's vuln: see
	// ExportReader for the mapping.
	Vuln *Vuln
	// Line is where the vuln's first row starts (1-based; the header is
	// line 1).
	Line int
	// Rows is how many rows were merged into this record (1 when the id was
	// not repeated).
	Rows int
	// Conflicts names, in header order, the columns where a merged row held
	// a different non-empty value than the one kept (the first).
	Conflicts []string
	// RepeatOf is the Line of an earlier record with the same id that was
	// not adjacent to this one, or 0. Such rows are not merged into the
	// earlier record, which was already returned; the caller decides.
	RepeatOf int
	// Host holds the host_* columns.
	Host ExportHost
	// Service holds the service_* columns that Vuln.Service has no place
	// for; nil when the record has no service.
	Service *ExportService
	// Extra holds the non-empty values of columns the reader does not know,
	// by header name, so that nothing is dropped. Nil when there are none.
	Extra map[string]string
}

// ExportHost is the host part of an export row.
type ExportHost struct {
	ID          int64
	Description string
	MAC         string
	Owned       bool
	CreatorID   int64 // 0 when empty
	Date        Time  // host_date
	UpdateDate  Time  // host_update_date
	Tags        []string
}

// ExportService is the service part of an export row beyond Vuln.Service.
type ExportService struct {
	// Text is the export's one-line "service" column, such as
	// "status:open - protocol:tcp - name:test - summary:(133/tcp) test -
	// version: - ports:133". It is kept as written.
	Text        string
	Description string
	Owned       bool
	CreatorID   int64 // 0 when empty
	Date        Time  // service_date
	UpdateDate  Time  // service_update_date
	ParentID    int64 // the host id
	Tags        []string
}

// ExportStats counts what an ExportReader has read so far.
type ExportStats struct {
	Rows      int // data rows read (the header excluded), malformed ones included
	Records   int // records returned
	Merged    int // rows merged into an earlier adjacent row with the same id
	Repeated  int // records whose id had already been returned (RepeatOf set)
	Malformed int // rows (or merged groups) reported as *RowError
}

// The columns the reader knows. Order does not matter: the header decides.
const (
	colConfirmed = iota
	colID
	colDate
	colName
	colSeverity
	colService
	colTarget
	colDesc
	colStatus
	colHostnames
	colOwner
	colOS
	colResolution
	colRefs
	colEase
	colWeb
	colData
	colWebsite
	colPath
	colStatusCode
	colRequest
	colResponse
	colMethod
	colParams
	colPname
	colQuery
	colCVE
	colCVSS2Vector
	colCVSS2Score
	colCVSS3Vector
	colCVSS3Score
	colCVSS4Vector
	colCVSS4Score
	colCWE
	colRiskScore
	colRiskSeverity
	colPolicyViolations
	colExternalID
	colImpactConfidentiality
	colImpactIntegrity
	colImpactAvailability
	colImpactAccountability
	colUpdateDate
	colTags
	colHostID
	colHostDescription
	colMAC
	colHostOwned
	colHostCreatorID
	colHostDate
	colHostUpdateDate
	colHostTags
	colServiceID
	colServiceName
	colServiceDescription
	colServiceOwned
	colPort
	colProtocol
	colSummary
	colVersion
	colServiceStatus
	colServiceCreatorID
	colServiceDate
	colServiceUpdateDate
	colServiceParentID
	colServiceTags
	numCols
)

var colNames = [numCols]string{
	"confirmed", "id", "date", "name", "severity", "service", "target", "desc", "status",
	"hostnames", "owner", "os", "resolution", "refs", "easeofresolution", "web_vulnerability",
	"data", "website", "path", "status_code", "request", "response", "method", "params", "pname",
	"query", "cve", "cvss2_vector_string", "cvss2_base_score", "cvss3_vector_string",
	"cvss3_base_score", "cvss4_vector_string", "cvss4_base_score", "cwe", "risk_score",
	"risk_severity", "policyviolations", "external_id", "impact_confidentiality",
	"impact_integrity", "impact_availability", "impact_accountability", "update_date", "tags",
	"host_id", "host_description", "mac", "host_owned", "host_creator_id", "host_date",
	"host_update_date", "host_tags", "service_id", "service_name", "service_description",
	"service_owned", "port", "protocol", "summary", "version", "service_status",
	"service_creator_id", "service_date", "service_update_date", "service_parent_id",
	"service_tags",
}

// isListCol reports the columns written as Python lists; merged rows unite
// them instead of keeping the first.
func isListCol(c int) bool {
	switch c {
	case colHostnames, colRefs, colCVE, colCWE, colPolicyViolations, colTags, colHostTags, colServiceTags:
		return true
	}
	return false
}

// ExportReader reads the CSV export of Faraday's vulns view ("Export CSV",
// GET /_api/v3/ws/{ws}/vulns/export_csv) one vulnerability at a time.
//
// The header decides: columns may come in any order and any may be missing
// except id; header names are compared without case and surrounding space,
// a UTF-8 byte order mark is ignored, and columns the reader does not know
// end up in ExportRecord.Extra. Quoted fields may span lines and hold
// doubled quotes (RFC 4180; quoting is strict, so a stray quote is a
// malformed row, not silently absorbed). Booleans are TRUE/FALSE in any
// case; dates are ISO-8601 with an offset ("2024-04-22T14:47:16.277896+00:00")
// or naive UTC ("2024-04-22 14:47:07"); lists and the refs column are Python
// literals such as ['a', 'b'] and, in refs, a list of dictionaries with "type"
// and "name" keys written with single quotes.
//
// Merging. Faraday writes one row per vuln and joined service, so a vuln can
// span several adjacent rows with the same id that differ in the service
// columns and in some flags. Adjacent rows with the same id are merged into
// one record: each column keeps its first non-empty value (for list columns
// "[]" counts as empty), list columns are united (first appearance order,
// duplicates removed), and the columns where a later row held a different
// non-empty value are listed in ExportRecord.Conflicts. ExportRecord.Rows
// and ExportStats.Merged say how many rows were merged. A row repeating an
// id that was already returned, with other rows in between, starts a new
// record whose RepeatOf names the earlier one: nothing is merged out of
// sight and nothing is dropped.
//
// Errors. A malformed row (bad quoting, wrong number of fields, a missing
// or non-numeric id) is returned as a *RowError with its line, and reading
// goes on with the next row. Values are checked when a record is built; a
// bad one (an unknown severity, a broken list, an impossible date) turns
// the whole record into a *RowError naming the line of the row that held it
// and the column. Only I/O errors and a bad header stop the reader.
//
// Memory. Only the current group of rows is held, plus the line of each
// distinct id's first record (to recognise repeats; 16 bytes an id while
// ids ascend, a map entry otherwise): memory grows with the number of
// distinct ids, not with the size of the file.
//
// Mapping. confirmed, id, name, desc (also Description), data, resolution,
// severity, status, target, os (HostOS), hostnames, owner, refs, cve, cwe,
// policyviolations, tags, external_id, easeofresolution (nil when empty),
// the web columns (website, path, method, params, pname, query, request,
// response), status_code (nil when empty or 0, the export's "none"),
// cvss2/3/4 vector and base score (nil object when both are empty),
// risk_score and risk_severity (nil when both are empty), impact_*, date,
// update_date go to the same-named Vuln fields. web_vulnerability TRUE
// makes the Type VulnerabilityWeb, otherwise Vulnerability. A non-empty
// service_id makes the vuln service-parented (Parent is the service id,
// Service built from service_id, port, service_status, protocol,
// service_name, version, summary); otherwise Parent is host_id with
// ParentType Host. cf_<name> columns fill CustomFields[<name>] with the
// text as a JSON string when non-empty. The export has no workspace
// column: see WithExportWorkspace.
type ExportReader struct {
	cr        *csv.Reader
	header    []string
	col       [numCols]int // index of each known column, -1 when absent
	known     []int        // per header index: known column number, or -1
	cfCols    []int        // header indexes of cf_* columns
	extraCols []int        // header indexes of unknown columns
	workspace string

	seen   idLines // id → line of its first record
	run    exportRun
	stats  ExportStats
	err    error     // sticky: I/O error or EOF reached
	queued *RowError // a row error to return after the pending record
}

// idLines remembers the line of each id's first record. Exports usually
// list ids in ascending order; while they come so, the ids sit in a sorted
// slice (16 bytes each, binary search); the first id out of order moves
// them to a map.
type idLines struct {
	sorted []idLine
	m      map[int64]int
}

type idLine struct {
	id   int64
	line int
}

func (s *idLines) get(id int64) (int, bool) {
	if s.m != nil {
		line, ok := s.m[id]
		return line, ok
	}
	i, ok := slices.BinarySearchFunc(s.sorted, id, func(e idLine, id int64) int { return cmp.Compare(e.id, id) })
	if !ok {
		return 0, false
	}
	return s.sorted[i].line, true
}

// add records a new id (get reported it absent).
func (s *idLines) add(id int64, line int) {
	if s.m == nil {
		if n := len(s.sorted); n == 0 || s.sorted[n-1].id < id {
			s.sorted = append(s.sorted, idLine{id, line})
			return
		}
		s.m = make(map[int64]int, 2*len(s.sorted))
		for _, e := range s.sorted {
			s.m[e.id] = e.line
		}
		s.sorted = nil
	}
	s.m[id] = line
}

// exportRun is the group of adjacent rows being merged.
type exportRun struct {
	active    bool
	id        int64
	idText    string
	line      int
	rows      int
	vals      []string // per header index: first non-empty value
	src       []int    // per header index: line the value came from
	more      []listExtra
	conflicts []int // header indexes, unsorted, without duplicates
}

// listExtra is a further, different list text of a merged list column.
type listExtra struct {
	col  int // header index
	text string
	line int
}

// ExportOption configures an ExportReader.
type ExportOption func(*ExportReader) error

// WithExportWorkspace sets Vuln.WorkspaceName of every record (the export
// does not say which workspace it comes from).
func WithExportWorkspace(name string) ExportOption {
	return func(r *ExportReader) error {
		if name == "" {
			return fmt.Errorf("%w: WithExportWorkspace: empty name", ErrInvalidOption)
		}
		r.workspace = name
		return nil
	}
}

// NewExportReader reads the header of a CSV export from r and returns a
// reader positioned at the first row. It fails when the header cannot be
// read, repeats a column or lacks the id column.
func NewExportReader(r io.Reader, opts ...ExportOption) (*ExportReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	er := &ExportReader{cr: cr}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: export option %d is nil", ErrInvalidOption, i)
		}
		if err := opt(er); err != nil {
			return nil, err
		}
	}
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty input, want a header line", ErrInvalidExport)
		}
		return nil, fmt.Errorf("%w: reading the header: %w", ErrInvalidExport, err)
	}
	er.header = make([]string, len(head))
	er.known = make([]int, len(head))
	for c := range er.col {
		er.col[c] = -1
	}
	index := make(map[string]int, numCols)
	for c, n := range colNames {
		index[n] = c
	}
	for i, h := range head {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.ToLower(strings.TrimSpace(h))
		er.header[i] = h
		er.known[i] = -1
		if slices.Contains(er.header[:i], h) {
			return nil, fmt.Errorf("%w: header column %d %q repeats an earlier column", ErrInvalidExport, i+1, h)
		}
		if c, ok := index[h]; ok {
			er.col[c] = i
			er.known[i] = c
			continue
		}
		if strings.HasPrefix(h, "cf_") && len(h) > 3 {
			er.cfCols = append(er.cfCols, i)
			continue
		}
		er.extraCols = append(er.extraCols, i)
	}
	if er.col[colID] < 0 {
		return nil, fmt.Errorf("%w: the header has no id column", ErrInvalidExport)
	}
	cr.FieldsPerRecord = len(head)
	er.run.vals = make([]string, len(head))
	er.run.src = make([]int, len(head))
	return er, nil
}

// Columns returns the header's column names as the reader understood them
// (lower case, trimmed).
func (r *ExportReader) Columns() []string { return slices.Clone(r.header) }

// Stats returns the counts so far.
func (r *ExportReader) Stats() ExportStats { return r.stats }

// Next returns the next record. At the end of the input it returns io.EOF.
// A *RowError reports a malformed row or record; the reader goes on at the
// next call. Records and row errors come in the order of their lines. Any
// other error is final.
func (r *ExportReader) Next() (*ExportRecord, error) {
	for {
		if q := r.queued; q != nil {
			r.queued = nil
			return nil, q
		}
		if r.err != nil {
			if r.run.active {
				return r.flush()
			}
			return nil, r.err
		}
		rec, err := r.cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.err = io.EOF
				continue
			}
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				r.err = fmt.Errorf("faraday: reading the CSV export: %w", err)
				continue
			}
			re := &RowError{Line: pe.StartLine, Err: fmt.Errorf("line %d, column %d: %w", pe.Line, pe.Column, pe.Err)}
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				re.Err = fmt.Errorf("%w: %d fields, the header has %d", pe.Err, len(rec), len(r.header))
				if r.col[colID] < len(rec) {
					re.ID = rec[r.col[colID]]
				}
			}
			if out, outErr := r.reject(re); out != nil || outErr != nil {
				return out, outErr
			}
			continue
		}
		line, _ := r.cr.FieldPos(0)
		idText := strings.TrimSpace(rec[r.col[colID]])
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil || id <= 0 {
			re := &RowError{Line: line, ID: idText, Column: "id", Err: errors.New("want a positive integer id")}
			if out, outErr := r.reject(re); out != nil || outErr != nil {
				return out, outErr
			}
			continue
		}
		r.stats.Rows++
		if r.run.active && r.run.id == id {
			r.merge(rec, line)
			r.stats.Merged++
			continue
		}
		var out *ExportRecord
		var outErr error
		if r.run.active {
			out, outErr = r.flush()
		}
		r.start(rec, id, idText, line)
		if out != nil || outErr != nil {
			return out, outErr
		}
	}
}

// reject counts a malformed row and queues its error behind the pending
// group, which it ends (so that output keeps the order of lines).
func (r *ExportReader) reject(re *RowError) (*ExportRecord, error) {
	r.stats.Rows++
	r.stats.Malformed++
	r.queued = re
	if r.run.active {
		return r.flush()
	}
	return nil, nil
}

// All returns an iterator over the remaining records and errors, in the
// order Next returns them; it stops after the last record or a final error.
func (r *ExportReader) All() iter.Seq2[*ExportRecord, error] {
	return func(yield func(*ExportRecord, error) bool) {
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var re *RowError
			final := err != nil && !errors.As(err, &re)
			if !yield(rec, err) || final {
				return
			}
		}
	}
}

func (r *ExportReader) start(rec []string, id int64, idText string, line int) {
	run := &r.run
	run.active, run.id, run.idText, run.line, run.rows = true, id, idText, line, 1
	run.more = run.more[:0]
	run.conflicts = run.conflicts[:0]
	copy(run.vals, rec)
	// run.src is filled only when a second row arrives (see merge and
	// srcLine): most vulns have one row.
}

// srcLine returns the line the run's value of header index i came from.
func (run *exportRun) srcLine(i int) int {
	if run.rows == 1 {
		return run.line
	}
	return run.src[i]
}

func isEmptyValue(known int, v string) bool {
	if v == "" {
		return true
	}
	if known >= 0 && isListCol(known) {
		t := strings.TrimSpace(v)
		return t == "" || t == "[]"
	}
	return false
}

// merge folds a row with the run's id into the run.
func (r *ExportReader) merge(rec []string, line int) {
	run := &r.run
	if run.rows == 1 {
		for i := range run.src {
			run.src[i] = run.line
		}
	}
	run.rows++
	for i, v := range rec {
		known := r.known[i]
		if isEmptyValue(known, v) {
			continue
		}
		cur := run.vals[i]
		if isEmptyValue(known, cur) {
			run.vals[i], run.src[i] = v, line
			continue
		}
		if cur == v {
			continue
		}
		if known >= 0 && isListCol(known) {
			dup := false
			for _, m := range run.more {
				if m.col == i && m.text == v {
					dup = true
					break
				}
			}
			if !dup {
				run.more = append(run.more, listExtra{col: i, text: v, line: line})
			}
			continue
		}
		if !slices.Contains(run.conflicts, i) {
			run.conflicts = append(run.conflicts, i)
		}
	}
}

// flush builds the run's record and ends the run.
func (r *ExportReader) flush() (*ExportRecord, error) {
	run := &r.run
	run.active = false
	rec, err := r.build()
	if err != nil {
		r.stats.Malformed++
		return nil, err
	}
	if first, ok := r.seen.get(run.id); ok {
		rec.RepeatOf = first
		r.stats.Repeated++
	} else {
		r.seen.add(run.id, run.line)
	}
	r.stats.Records++
	return rec, nil
}

// rowErr makes the error for column c of the run.
func (r *ExportReader) rowErr(c int, err error) *RowError {
	i := r.col[c]
	return &RowError{Line: r.run.srcLine(i), ID: r.run.idText, Column: r.header[i], Err: err}
}

// get returns the merged value of a known column ("" when absent).
func (r *ExportReader) get(c int) string {
	if i := r.col[c]; i >= 0 {
		return r.run.vals[i]
	}
	return ""
}

func (r *ExportReader) build() (*ExportRecord, error) {
	run := &r.run
	b := builder{r: r}
	// One allocation for the record, its vuln and their parts.
	both := &struct {
		rec  ExportRecord
		v    Vuln
		svc  Service
		esvc ExportService
		risk Risk
	}{}
	v := &both.v
	// Fields are set one by one: a composite literal would be built aside
	// and copied, and a Vuln is large.
	v.ID = run.id
	v.ObjectID = run.id
	v.ObjID = run.idText
	v.Name = r.get(colName)
	v.Desc = r.get(colDesc)
	v.Description = r.get(colDesc)
	v.Data = r.get(colData)
	v.Resolution = r.get(colResolution)
	v.Target = r.get(colTarget)
	v.HostOS = r.get(colOS)
	v.Owner = r.get(colOwner)
	v.Website = r.get(colWebsite)
	v.Path = r.get(colPath)
	v.Method = r.get(colMethod)
	v.Params = r.get(colParams)
	v.ParamName = r.get(colPname)
	v.Query = r.get(colQuery)
	v.Request = r.get(colRequest)
	v.Response = r.get(colResponse)
	v.ExternalID = r.get(colExternalID)
	v.WorkspaceName = r.workspace
	v.Type = TypeVulnerability
	v.Confirmed = b.boolean(colConfirmed)
	if b.boolean(colWeb) {
		v.Type = TypeVulnerabilityWeb
	}
	if s := r.get(colSeverity); s != "" {
		sev, err := ParseSeverity(s)
		b.fail(colSeverity, err)
		v.Severity = sev
	}
	if s := r.get(colStatus); s != "" {
		st, err := ParseStatus(s)
		b.fail(colStatus, err)
		v.Status = st
	}
	v.Date = b.date(colDate)
	v.UpdateDate = b.date(colUpdateDate)
	v.Hostnames = b.strings(colHostnames)
	v.CVE = b.strings(colCVE)
	v.CWE = b.strings(colCWE)
	v.PolicyViolations = b.strings(colPolicyViolations)
	v.Tags = b.strings(colTags)
	v.Refs = b.refs()
	if s := r.get(colEase); s != "" {
		v.EaseOfResolution = &s
	}
	if n := b.integer(colStatusCode); n != 0 {
		code := int(n)
		v.StatusCode = &code
	}
	v.CVSS2 = b.cvss(colCVSS2Vector, colCVSS2Score)
	v.CVSS3 = b.cvss(colCVSS3Vector, colCVSS3Score)
	v.CVSS4 = b.cvss(colCVSS4Vector, colCVSS4Score)
	if r.get(colRiskScore) != "" || r.get(colRiskSeverity) != "" {
		both.risk = Risk{Score: int(b.integer(colRiskScore)), Severity: r.get(colRiskSeverity)}
		v.Risk = &both.risk
	}
	v.Impact = Impact{
		Confidentiality: b.boolean(colImpactConfidentiality),
		Integrity:       b.boolean(colImpactIntegrity),
		Availability:    b.boolean(colImpactAvailability),
		Accountability:  b.boolean(colImpactAccountability),
	}
	for _, i := range r.cfCols {
		if val := run.vals[i]; val != "" {
			if v.CustomFields == nil {
				v.CustomFields = make(map[string]json.RawMessage)
			}
			v.CustomFields[r.header[i][len("cf_"):]] = appendJSONString(nil, val)
		}
	}

	out := &both.rec
	out.Vuln, out.Line, out.Rows = v, run.line, run.rows
	out.Host = ExportHost{
		ID:          b.integer(colHostID),
		Description: r.get(colHostDescription),
		MAC:         r.get(colMAC),
		Owned:       b.boolean(colHostOwned),
		CreatorID:   b.integer(colHostCreatorID),
		Date:        b.date(colHostDate),
		UpdateDate:  b.date(colHostUpdateDate),
		Tags:        b.strings(colHostTags),
	}
	if sid := b.integer(colServiceID); sid != 0 {
		v.Service = &both.svc
		*v.Service = Service{
			ID:       sid,
			Port:     int(b.integer(colPort)),
			Status:   r.get(colServiceStatus),
			Protocol: r.get(colProtocol),
			Name:     r.get(colServiceName),
			Version:  r.get(colVersion),
			Summary:  r.get(colSummary),
		}
		v.Parent, v.ParentType = sid, ParentService
		out.Service = &both.esvc
		*out.Service = ExportService{
			Text:        r.get(colService),
			Description: r.get(colServiceDescription),
			Owned:       b.boolean(colServiceOwned),
			CreatorID:   b.integer(colServiceCreatorID),
			Date:        b.date(colServiceDate),
			UpdateDate:  b.date(colServiceUpdateDate),
			ParentID:    b.integer(colServiceParentID),
			Tags:        b.strings(colServiceTags),
		}
	} else {
		v.Parent, v.ParentType = out.Host.ID, ParentHost
	}
	for _, i := range r.extraCols {
		if val := run.vals[i]; val != "" {
			if out.Extra == nil {
				out.Extra = make(map[string]string)
			}
			out.Extra[r.header[i]] = val
		}
	}
	if len(run.conflicts) > 0 {
		slices.Sort(run.conflicts)
		out.Conflicts = make([]string, len(run.conflicts))
		for k, i := range run.conflicts {
			out.Conflicts[k] = r.header[i]
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return out, nil
}

// builder converts the run's text values, keeping the first error.
type builder struct {
	r   *ExportReader
	err *RowError
}

func (b *builder) fail(c int, err error) {
	if err != nil && b.err == nil {
		b.err = b.r.rowErr(c, err)
	}
}

func (b *builder) boolean(c int) bool {
	s := b.r.get(c)
	switch {
	case s == "":
		return false
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	}
	b.fail(c, fmt.Errorf("%s is not TRUE or FALSE", quoteValue(s)))
	return false
}

func (b *builder) integer(c int) int64 {
	s := strings.TrimSpace(b.r.get(c))
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		b.fail(c, fmt.Errorf("%s is not an integer", quoteValue(s)))
	}
	return n
}

func (b *builder) date(c int) Time {
	s := b.r.get(c)
	if s == "" {
		return Time{}
	}
	if t, ok := parseExportTime(s); ok {
		return t
	}
	t, err := ParseTime(s) // other forms, and the error message
	b.fail(c, err)
	return t
}

// parseExportTime is a fast path for the two date forms of the export,
// "2024-04-22T14:47:16.277896+00:00" and "2024-04-22 14:47:07" (optional
// fraction; offset Z, ±HH:MM or none for UTC). It reports false for
// anything else, including impossible dates, which ParseTime then rejects
// with its message.
func parseExportTime(s string) (Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100_000_000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i > 9 {
				return Time{}, false
			}
			nsec += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return Time{}, false
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		base := len(s) - 6
		oh, okh := num(base+1, base+3)
		om, okm := num(base+4, base+6)
		if !okh || !okm || oh > 23 || om > 59 {
			return Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April and the like
		return Time{}, false
	}
	return NewTime(t.Add(-time.Duration(offset) * time.Second)), true
}

func (b *builder) cvss(vecCol, scoreCol int) *CVSS {
	vec, score := b.r.get(vecCol), strings.TrimSpace(b.r.get(scoreCol))
	if vec == "" && score == "" {
		return nil
	}
	// One allocation for the object and the values it points to.
	box := &struct {
		c   CVSS
		vec string
		f   float64
	}{vec: vec}
	if vec != "" {
		box.c.VectorString = &box.vec
	}
	if score != "" {
		f, err := strconv.ParseFloat(score, 64)
		if err != nil {
			b.fail(scoreCol, fmt.Errorf("%s is not a number", quoteValue(score)))
		}
		box.f = f
		box.c.BaseScore = &box.f
	}
	return &box.c
}

// listFail records err for the list column at header index i, read from
// the given line.
func (b *builder) listFail(i, line int, err error) {
	if err != nil && b.err == nil {
		b.err = &RowError{Line: line, ID: b.r.run.idText, Column: b.r.header[i], Err: err}
	}
}

// strings parses a list column of the run: its first non-empty text, then
// the differing texts of merged rows, united.
func (b *builder) strings(c int) []string {
	i := b.r.col[c]
	if i < 0 {
		return nil
	}
	run := &b.r.run
	out, err := parsePyStrings(run.vals[i])
	b.listFail(i, run.srcLine(i), err)
	out = unite(nil, out)
	for _, m := range run.more {
		if m.col == i {
			items, err := parsePyStrings(m.text)
			b.listFail(i, m.line, err)
			out = unite(out, items)
		}
	}
	return out
}

// refs is strings for the refs column.
func (b *builder) refs() []Ref {
	i := b.r.col[colRefs]
	if i < 0 {
		return nil
	}
	run := &b.r.run
	out, err := parsePyRefs(run.vals[i])
	b.listFail(i, run.srcLine(i), err)
	out = unite(nil, out)
	for _, m := range run.more {
		if m.col == i {
			items, err := parsePyRefs(m.text)
			b.listFail(i, m.line, err)
			out = unite(out, items)
		}
	}
	return out
}

// unite appends to out the items it does not hold yet, in order. When out
// is nil it reuses the items' array.
func unite[T comparable](out, items []T) []T {
	if out == nil {
		k := 0
		for _, it := range items {
			if !slices.Contains(items[:k], it) {
				items[k] = it
				k++
			}
		}
		if k == 0 {
			return nil
		}
		return items[:k]
	}
	for _, it := range items {
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD (as
// encoding/json does).
func appendJSONString(dst []byte, s string) json.RawMessage {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
