package faraday

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vulndesk/mesd/internal/testutil"
)

// readAllRecords drains an ExportReader, separating records and row errors.
func readAllRecords(t *testing.T, r *ExportReader) ([]*ExportRecord, []*RowError) {
	t.Helper()
	var recs []*ExportRecord
	var errs []*RowError
	for rec, err := range r.All() {
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("final error: %v", err)
			}
			errs = append(errs, re)
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}

// expectedMerge computes, with encoding/csv alone, what the reader must
// return for the rows of one id: the first non-empty value per column.
func expectedMerge(rows [][]string) []string {
	out := make([]string, len(rows[0]))
	for _, row := range rows {
		for i, v := range row {
			if out[i] == "" || (out[i] == "[]" && v != "") {
				out[i] = v
			}
		}
	}
	return out
}

// TestExportRealFile checks every column of the real export against values
// derived here from the file with encoding/csv.
func TestExportRealFile(t *testing.T) {
	data := testutil.ReadFixture(t, "faraday", "faraday_vulns_export.csv")
	all, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := all[0], all[1:]
	col := func(name string) int { return slices.Index(header, name) }

	r, err := NewExportReader(bytes.NewReader(data), WithExportWorkspace("acme"))
	if err != nil {
		t.Fatal(err)
	}
	recs, rowErrs := readAllRecords(t, r)
	if len(rowErrs) != 0 {
		t.Fatalf("row errors: %v", rowErrs)
	}
	// Hand-written facts about the file: three rows, all id 604.
	if len(rows) != 3 || len(recs) != 1 {
		t.Fatalf("rows = %d, records = %d; want 3 rows merged into 1 record", len(rows), len(recs))
	}
	st := r.Stats()
	if st != (ExportStats{Rows: 3, Records: 1, Merged: 2}) {
		t.Errorf("stats = %+v", st)
	}
	rec := recs[0]
	if rec.Line != 2 || rec.Rows != 3 || rec.RepeatOf != 0 || rec.Extra != nil {
		t.Errorf("line/rows/repeat/extra = %d %d %d %v", rec.Line, rec.Rows, rec.RepeatOf, rec.Extra)
	}
	// The rows differ in web_vulnerability and two impact flags (and the
	// service columns, empty on the third row, which is no conflict).
	var wantConflicts []string
	for i, name := range header {
		var vals []string
		for _, row := range rows {
			if row[i] != "" && !slices.Contains(vals, row[i]) {
				vals = append(vals, row[i])
			}
		}
		if len(vals) > 1 {
			wantConflicts = append(wantConflicts, name)
		}
	}
	if !reflect.DeepEqual(rec.Conflicts, wantConflicts) ||
		!reflect.DeepEqual(wantConflicts, []string{"web_vulnerability", "impact_integrity", "impact_availability"}) {
		t.Errorf("conflicts = %v, derived %v", rec.Conflicts, wantConflicts)
	}

	want := expectedMerge(rows)
	v := rec.Vuln
	b := func(s string) bool {
		switch s {
		case "TRUE":
			return true
		case "FALSE", "":
			return false
		}
		t.Fatalf("fixture boolean %q", s)
		return false
	}
	i64 := func(s string) int64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	date := func(s string) time.Time {
		for _, l := range []string{"2006-01-02T15:04:05.999999-07:00", "2006-01-02 15:04:05"} {
			if d, err := time.Parse(l, s); err == nil {
				return d.UTC()
			}
		}
		t.Fatalf("fixture date %q", s)
		return time.Time{}
	}
	emptyList := func(s string) []string {
		if s != "[]" {
			t.Fatalf("fixture list %q: this test expects []", s)
		}
		return nil
	}
	optStr := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	wantStatusCode := func(s string) *int {
		if n := i64(s); n != 0 {
			c := int(n)
			return &c
		}
		return nil
	}
	sev := map[string]Severity{"high": SeverityHigh, "medium": SeverityMedium, "low": SeverityLow, "critical": SeverityCritical}
	sta := map[string]Status{"open": StatusOpen, "closed": StatusClosed}
	wantType := TypeVulnerability
	if b(want[col("web_vulnerability")]) {
		wantType = TypeVulnerabilityWeb
	}
	if v.Service == nil || rec.Service == nil {
		t.Fatal("service missing")
	}
	checks := map[string][2]any{
		"confirmed":              {v.Confirmed, b(want[col("confirmed")])},
		"id":                     {v.ID, i64(want[col("id")])},
		"date":                   {v.Date.Time, date(want[col("date")])},
		"name":                   {v.Name, want[col("name")]},
		"severity":               {v.Severity, sev[want[col("severity")]]},
		"service":                {rec.Service.Text, want[col("service")]},
		"target":                 {v.Target, want[col("target")]},
		"desc":                   {[]string{v.Desc, v.Description}, []string{want[col("desc")], want[col("desc")]}},
		"status":                 {v.Status, sta[want[col("status")]]},
		"hostnames":              {v.Hostnames, emptyList(want[col("hostnames")])},
		"owner":                  {v.Owner, want[col("owner")]},
		"os":                     {v.HostOS, want[col("os")]},
		"resolution":             {v.Resolution, want[col("resolution")]},
		"refs":                   {v.Refs, []Ref{{Name: "", Type: RefOther}}}, // hand-read: [{'type': 'other', 'name': ''}]
		"easeofresolution":       {v.EaseOfResolution, optStr(want[col("easeofresolution")])},
		"web_vulnerability":      {v.Type, wantType},
		"data":                   {v.Data, want[col("data")]},
		"website":                {v.Website, want[col("website")]},
		"path":                   {v.Path, want[col("path")]},
		"status_code":            {v.StatusCode, wantStatusCode(want[col("status_code")])},
		"request":                {v.Request, want[col("request")]},
		"response":               {v.Response, want[col("response")]},
		"method":                 {v.Method, want[col("method")]},
		"params":                 {v.Params, want[col("params")]},
		"pname":                  {v.ParamName, want[col("pname")]},
		"query":                  {v.Query, want[col("query")]},
		"cve":                    {v.CVE, emptyList(want[col("cve")])},
		"cvss2_vector_string":    {v.CVSS2, (*CVSS)(nil)}, // both cvss2 columns are empty
		"cvss2_base_score":       {want[col("cvss2_vector_string")] + want[col("cvss2_base_score")], ""},
		"cvss3_vector_string":    {v.CVSS3, (*CVSS)(nil)},
		"cvss3_base_score":       {want[col("cvss3_vector_string")] + want[col("cvss3_base_score")], ""},
		"cwe":                    {v.CWE, emptyList(want[col("cwe")])},
		"risk_score":             {v.Risk.Score, int(i64(want[col("risk_score")]))},
		"risk_severity":          {v.Risk.Severity, want[col("risk_severity")]},
		"policyviolations":       {v.PolicyViolations, emptyList(want[col("policyviolations")])},
		"external_id":            {v.ExternalID, want[col("external_id")]},
		"impact_confidentiality": {v.Impact.Confidentiality, b(want[col("impact_confidentiality")])},
		"impact_integrity":       {v.Impact.Integrity, b(want[col("impact_integrity")])},
		"impact_availability":    {v.Impact.Availability, b(want[col("impact_availability")])},
		"impact_accountability":  {v.Impact.Accountability, b(want[col("impact_accountability")])},
		"update_date":            {v.UpdateDate.Time, date(want[col("update_date")])},
		"tags":                   {v.Tags, emptyList(want[col("tags")])},
		"host_id":                {rec.Host.ID, i64(want[col("host_id")])},
		"host_description":       {rec.Host.Description, want[col("host_description")]},
		"mac":                    {rec.Host.MAC, want[col("mac")]},
		"host_owned":             {rec.Host.Owned, b(want[col("host_owned")])},
		"host_creator_id":        {rec.Host.CreatorID, i64(want[col("host_creator_id")])},
		"host_date":              {rec.Host.Date.Time, date(want[col("host_date")])},
		"host_update_date":       {rec.Host.UpdateDate.Time, date(want[col("host_update_date")])},
		"host_tags":              {rec.Host.Tags, emptyList(want[col("host_tags")])},
		"service_id":             {[]int64{v.Service.ID, v.Parent}, []int64{i64(want[col("service_id")]), i64(want[col("service_id")])}},
		"service_name":           {v.Service.Name, want[col("service_name")]},
		"service_description":    {rec.Service.Description, want[col("service_description")]},
		"service_owned":          {rec.Service.Owned, b(want[col("service_owned")])},
		"port":                   {v.Service.Port, int(i64(want[col("port")]))},
		"protocol":               {v.Service.Protocol, want[col("protocol")]},
		"summary":                {v.Service.Summary, want[col("summary")]},
		"version":                {v.Service.Version, want[col("version")]},
		"service_status":         {v.Service.Status, want[col("service_status")]},
		"service_creator_id":     {rec.Service.CreatorID, i64(want[col("service_creator_id")])},
		"service_date":           {rec.Service.Date.Time, date(want[col("service_date")])},
		"service_update_date":    {rec.Service.UpdateDate.Time, date(want[col("service_update_date")])},
		"service_parent_id":      {rec.Service.ParentID, i64(want[col("service_parent_id")])},
		"service_tags":           {rec.Service.Tags, emptyList(want[col("service_tags")])},
	}
	for i, name := range header {
		if strings.HasPrefix(name, "cf_") {
			if want[i] != "" {
				t.Errorf("%s: this test expects the fixture's custom fields to be empty", name)
			}
			if _, ok := v.CustomFields[strings.TrimPrefix(name, "cf_")]; ok {
				t.Errorf("%s: empty custom field stored", name)
			}
			continue
		}
		c, ok := checks[name]
		if !ok {
			t.Errorf("column %q is not checked", name)
			continue
		}
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %#v, want %#v", name, c[0], c[1])
		}
	}
	// Hand-written spot checks of the quirks the brief names.
	if !strings.Contains(v.Desc, `such as "<", ">", and "&" that`) || strings.Count(v.Desc, "\n") != 1 {
		t.Errorf("desc lost its doubled quotes or its line break: %q", v.Desc)
	}
	if v.Severity != SeverityHigh || v.Type != TypeVulnerabilityWeb || v.ParentType != ParentService || v.Parent != 92 ||
		v.Service.Port != 133 || v.Risk.Score != 61 || v.WorkspaceName != "acme" || v.StatusCode != nil {
		t.Errorf("hand-read values differ: %+v", v)
	}
	if got := v.Date.String(); got != "2024-04-22T14:47:16.277896+00:00" {
		t.Errorf("date = %s", got)
	}
	if got := rec.Host.Date.Time; !got.Equal(time.Date(2024, 4, 22, 14, 47, 7, 0, time.UTC)) {
		t.Errorf("host_date = %v", got)
	}
}

// TestExportHeaderDriven reorders columns, drops most of them and adds an
// unknown one and a custom field.
func TestExportHeaderDriven(t *testing.T) {
	in := "\ufeffSeverity, ID ,name,extra_col,cf_team,hostnames,refs,status,confirmed,date\n" +
		"med,7,A,x,red,\"['a.example', 'b.example']\",\"[{'type': 'patch', 'name': \"\"it's\"\"}]\",opened,true,2024-01-02 03:04:05\n" +
		"critical,8,B,,,[],[],closed,False,2024-01-02T03:04:05Z\n"
	r, err := NewExportReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Columns(); !reflect.DeepEqual(got, []string{"severity", "id", "name", "extra_col", "cf_team", "hostnames", "refs", "status", "confirmed", "date"}) {
		t.Errorf("columns = %q", got)
	}
	recs, errs := readAllRecords(t, r)
	if len(errs) != 0 || len(recs) != 2 {
		t.Fatalf("records %d, errors %v", len(recs), errs)
	}
	a, b := recs[0].Vuln, recs[1].Vuln
	if a.ID != 7 || a.Severity != SeverityMedium || a.Status != StatusOpen || !a.Confirmed || a.Name != "A" ||
		!reflect.DeepEqual(a.Hostnames, []string{"a.example", "b.example"}) ||
		!reflect.DeepEqual(a.Refs, []Ref{{Name: "it's", Type: RefPatch}}) ||
		string(a.CustomFields["team"]) != `"red"` || a.ParentType != ParentHost || a.Service != nil {
		t.Errorf("first = %+v", a)
	}
	if !reflect.DeepEqual(recs[0].Extra, map[string]string{"extra_col": "x"}) || recs[1].Extra != nil {
		t.Errorf("extra = %v / %v", recs[0].Extra, recs[1].Extra)
	}
	if !a.Date.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || !b.Date.Equal(a.Date.Time) {
		t.Errorf("dates = %v %v", a.Date, b.Date)
	}
	if b.ID != 8 || b.Severity != SeverityCritical || b.Status != StatusClosed || b.Confirmed || b.Hostnames != nil || b.Refs != nil || b.CustomFields != nil {
		t.Errorf("second = %+v", b)
	}
}

func TestExportHeaderErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":    "",
		"no id":    "name,severity\nA,high\n",
		"repeated": "id,name,Name\n1,a,b\n",
		"bad":      "id,\"name\n",
	} {
		_, err := NewExportReader(strings.NewReader(in))
		if !errors.Is(err, ErrInvalidExport) {
			t.Errorf("%s: err = %v, want ErrInvalidExport", name, err)
		}
	}
}

// TestExportMergeAndRepeat: adjacent rows merge (lists united, first
// non-empty kept, conflicts listed); a later non-adjacent repeat is its own
// record pointing at the first.
func TestExportMergeAndRepeat(t *testing.T) {
	in := "id,name,severity,hostnames,cve,web_vulnerability,service_id,port\n" +
		"1,A,,\"['h1']\",[],FALSE,,\n" + // line 2
		"1,,high,\"['h2', 'h1']\",\"['CVE-2020-0001']\",TRUE,5,80\n" + // line 3
		"2,B,low,[],[],FALSE,,\n" + // line 4
		"1,A2,low,[],[],,,\n" // line 5
	r, err := NewExportReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAllRecords(t, r)
	if len(errs) != 0 || len(recs) != 3 {
		t.Fatalf("records %d, errors %v", len(recs), errs)
	}
	one := recs[0]
	if one.Rows != 2 || one.Line != 2 || one.Vuln.Name != "A" || one.Vuln.Severity != SeverityHigh ||
		!reflect.DeepEqual(one.Vuln.Hostnames, []string{"h1", "h2"}) ||
		!reflect.DeepEqual(one.Vuln.CVE, []string{"CVE-2020-0001"}) ||
		one.Vuln.Type != TypeVulnerability || one.Vuln.Service == nil || one.Vuln.Service.Port != 80 ||
		!reflect.DeepEqual(one.Conflicts, []string{"web_vulnerability"}) {
		t.Errorf("merged = %+v %+v", one, one.Vuln)
	}
	if recs[1].Vuln.ID != 2 || recs[1].RepeatOf != 0 {
		t.Errorf("second = %+v", recs[1])
	}
	if recs[2].Vuln.ID != 1 || recs[2].RepeatOf != 2 || recs[2].Line != 5 || recs[2].Vuln.Name != "A2" {
		t.Errorf("repeat = %+v", recs[2])
	}
	if st := r.Stats(); st != (ExportStats{Rows: 4, Records: 3, Merged: 1, Repeated: 1}) {
		t.Errorf("stats = %+v", st)
	}
}

// TestExportMalformedRows: each bad row is reported with its line, the rest
// is read.
func TestExportMalformedRows(t *testing.T) {
	in := "id,name,severity,date,hostnames,confirmed\n" +
		"1,ok,high,,[],TRUE\n" + // 2
		"2,too,many,fields,[],TRUE,x\n" + // 3
		"x,bad id,high,,[],TRUE\n" + // 4
		"3,\"multi\nline\",urgent,,[],TRUE\n" + // 5-6: bad severity
		"4,d,low,yesterday,[],TRUE\n" + // 7: bad date
		"5,l,low,,['unterminated,TRUE\n" + // 8: bad list
		"6,b,low,,[],maybe\n" + // 9: bad bool
		"7,q,low,\"bad\"quote,[],TRUE\n" + // 10: bad quoting
		"8,last,info,,[],FALSE\n" // 11
	r, err := NewExportReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAllRecords(t, r)
	var ids []int64
	for _, rec := range recs {
		ids = append(ids, rec.Vuln.ID)
	}
	if !reflect.DeepEqual(ids, []int64{1, 8}) {
		t.Errorf("ids = %v", ids)
	}
	type e struct {
		line int
		col  string
	}
	var got []e
	for _, re := range errs {
		got = append(got, e{re.Line, re.Column})
		if !errors.Is(re, ErrInvalidExport) || !strings.Contains(re.Error(), "line "+strconv.Itoa(re.Line)) {
			t.Errorf("error %v does not match ErrInvalidExport or name its line", re)
		}
	}
	want := []e{{3, ""}, {4, "id"}, {5, "severity"}, {7, "date"}, {8, "hostnames"}, {9, "confirmed"}, {10, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors at %v, want %v (%v)", got, want, errs)
	}
	if st := r.Stats(); st.Rows != 9 || st.Records != 2 || st.Malformed != 7 {
		t.Errorf("stats = %+v", st)
	}
}

// TestExportMergedBadValueLine: a bad list in the second row of a group is
// reported at that row's line.
func TestExportMergedBadValueLine(t *testing.T) {
	in := "id,cve\n1,\"['CVE-1']\"\n1,\"['CVE-2'\"\n2,[]\n"
	r, err := NewExportReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAllRecords(t, r)
	if len(recs) != 1 || recs[0].Vuln.ID != 2 || len(errs) != 1 || errs[0].Line != 3 || errs[0].Column != "cve" || errs[0].ID != "1" {
		t.Fatalf("records %v, errors %v", recs, errs)
	}
}

// errReader fails after its data.
type errReader struct {
	data io.Reader
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.data.Read(p)
	if errors.Is(err, io.EOF) {
		return n, e.err
	}
	return n, err
}

func TestExportIOErrorIsFinal(t *testing.T) {
	boom := errors.New("disk on fire")
	r, err := NewExportReader(&errReader{data: strings.NewReader("id,name\n1,a\n2,b\n"), err: boom})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	var final error
	for rec, err := range r.All() {
		if err != nil {
			final = err
			continue
		}
		ids = append(ids, rec.Vuln.ID)
	}
	if !errors.Is(final, boom) || !reflect.DeepEqual(ids, []int64{1, 2}) {
		t.Errorf("ids %v, final %v", ids, final)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("after the end: %v", err)
	}
}

func TestPyLiteral(t *testing.T) {
	okCases := map[string][]string{
		``:                         nil,
		`[]`:                       nil,
		` [ 'a' , "b'c" , ] `:      {"a", "b'c"},
		`['\x41\u00e9\n\\\'', '']`: {"Aé\n\\'", ""},
		`['日本']`:                   {"日本"},
		`['\101\z']`:               {"A\\z"},
	}
	for in, want := range okCases {
		got, err := parsePyStrings(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parsePyStrings(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`[`, `['a'`, `['a' 'b']`, `[1]`, `{'a': 'b'}`, `['a'] x`, `'a`, `[None`, `["\x4"]`, "['a\nb']", `[nope]`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40)} {
		if _, err := parsePyStrings(in); !errors.Is(err, errPyLiteral) {
			t.Errorf("parsePyStrings(%q) err = %v, want a literal error", in, err)
		}
	}
	refs, err := parsePyRefs(`[{'type': 'other', 'name': ''}, {"name": None, 'type': 'exploit'}, ]`)
	if err != nil || !reflect.DeepEqual(refs, []Ref{{Name: "", Type: RefOther}, {Name: "", Type: RefExploit}}) {
		t.Errorf("refs = %v, %v", refs, err)
	}
	for _, in := range []string{`[{'name': 1}]`, `[{1: 'a'}]`, `['a']`, `[{'name' 'b'}]`, `[{'name': 'x'}]`, `[{'name': 'x', 'type': 'other', 'url': 'u'}]`, `[{'name': 'x', 'type': 'other'}`} {
		if _, err := parsePyRefs(in); !errors.Is(err, errPyLiteral) {
			t.Errorf("parsePyRefs(%q) err = %v", in, err)
		}
	}
}

func TestParseExportTime(t *testing.T) {
	for _, in := range []string{
		"2024-04-22T14:47:16.277896+00:00", "2024-04-22 14:47:07", "2024-04-22T14:47:07Z", "2024-04-22 14:47:07.5",
		"2024-04-22T23:47:07-03:30", "2024-02-29 00:00:00", "2024-04-22T14:47:16.123456789+01:00",
	} {
		fast, ok := parseExportTime(in)
		slow, err := ParseTime(in)
		if !ok || err != nil || !fast.Equal(slow.Time) {
			t.Errorf("%s: fast %v %v, ParseTime %v %v", in, fast, ok, slow, err)
		}
	}
	for _, in := range []string{"2024-04-31 00:00:00", "2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-04-22 24:00:00",
		"2024-04-22T14:47:07+0000", "2024-04-22T14:47:07+00:+0", "2024-04-22 14:47:07.", "2024-04-22", "yesterday", "2024-04-22 14:47:07 UTC"} {
		if _, ok := parseExportTime(in); ok {
			t.Errorf("%s accepted by the fast path", in)
		}
	}
}

func FuzzParseExportTime(f *testing.F) {
	f.Add("2024-04-22T14:47:16.277896+00:00")
	f.Add("2024-04-22 14:47:07")
	f.Add("2024-04-22T14:47:07-03:30")
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseExportTime(s)
		if !ok {
			return
		}
		slow, err := ParseTime(s)
		if err != nil || !fast.Equal(slow.Time) {
			t.Fatalf("%q: fast path %v, ParseTime %v %v", s, fast, slow, err)
		}
	})
}

func FuzzPyLists(f *testing.F) {
	for _, s := range []string{`[]`, `[{'type': 'other', 'name': ''}]`, `['a', "b'c"]`, `['\x41\u00e9']`, `[None]`, `{'a': ['b']}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parsePyRefs(s); err != nil && !errors.Is(err, errPyLiteral) {
			t.Fatalf("refs error %v does not wrap errPyLiteral", err)
		}
		strs, err := parsePyStrings(s)
		if err != nil {
			if !errors.Is(err, errPyLiteral) {
				t.Fatalf("error %v does not wrap errPyLiteral", err)
			}
			return
		}
		if !utf8.ValidString(strings.Join(strs, "")) {
			return
		}
		// Written back in Python's repr form, the list reads the same.
		var b strings.Builder
		b.WriteByte('[')
		for i, x := range strs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(x))
		}
		b.WriteByte(']')
		again, err := parsePyStrings(b.String())
		if err != nil || !reflect.DeepEqual(again, strs) {
			t.Fatalf("repr %q read back as %q, %v; want %q", b.String(), again, err, strs)
		}
	})
}

// pyRepr writes s the way Python's repr does, for the fuzz round trip.
func pyRepr(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatInt(int64(r)+0x100, 16)[1:])
		case r == 0xfffd:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func FuzzExportReader(f *testing.F) {
	f.Add("id,name,hostnames\n1,a,\"['x']\"\n1,,\"['y']\"\n")
	f.Add("confirmed,id,severity,date\nTRUE,5,med,2024-04-22 14:47:07\n")
	f.Add("id,desc\n3,\"a \"\"quoted\"\"\nline\"\n")
	f.Add("id\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := NewExportReader(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalidExport) {
				t.Fatalf("header error %v does not match ErrInvalidExport", err)
			}
			return
		}
		records, rowErrs := 0, 0
		for i := 0; ; i++ {
			if i > len(in)+10 {
				t.Fatal("reader does not end")
			}
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *RowError
			switch {
			case errors.As(err, &re):
				rowErrs++
				if re.Line < 2 {
					t.Fatalf("row error at line %d", re.Line)
				}
			case err != nil:
				t.Fatalf("final error on in-memory input: %v", err)
			default:
				records++
				if rec.Vuln == nil || rec.Vuln.ID <= 0 || rec.Rows < 1 {
					t.Fatalf("bad record %+v", rec)
				}
			}
		}
		st := r.Stats()
		if st.Records != records || st.Malformed != rowErrs {
			t.Fatalf("stats %+v, counted %d records %d errors", st, records, rowErrs)
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("quote \" backslash \\ nl \n tab \t ctl \x01 é \xff")
	f.Fuzz(func(t *testing.T, s string) {
		raw := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, raw, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && utf8.ValidString(s) {
			t.Fatalf("%q → %s → %q", s, raw, back)
		}
	})
}

func TestIDLines(t *testing.T) {
	var s idLines
	for i, id := range []int64{2, 5, 9, 3, 1, 12} { // ascending, then not
		if _, ok := s.get(id); ok {
			t.Fatalf("%d present before add", id)
		}
		s.add(id, 10+i)
	}
	for i, id := range []int64{2, 5, 9, 3, 1, 12} {
		if line, ok := s.get(id); !ok || line != 10+i {
			t.Errorf("get(%d) = %d, %v", id, line, ok)
		}
	}
	if _, ok := s.get(4); ok {
		t.Error("4 found")
	}
	var asc idLines
	for id := int64(1); id <= 100; id++ {
		asc.add(id*3, int(id))
	}
	if asc.m != nil || len(asc.sorted) != 100 {
		t.Error("ascending ids left the slice")
	}
	if line, ok := asc.get(150); !ok || line != 50 {
		t.Errorf("get(150) = %d, %v", line, ok)
	}
	if _, ok := asc.get(151); ok {
		t.Error("151 found")
	}
}

// TestExportRealFileReordered writes the real export back with its columns
// in reverse order and two of them dropped: the reader must read the same
// values (the header decides), and a dropped column only empties its field.
func TestExportRealFileReordered(t *testing.T) {
	data := testutil.ReadFixture(t, "faraday", "faraday_vulns_export.csv")
	all, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	drop := map[string]bool{"service": true, "cvss2_vector_string": true}
	var keep []int
	for i := len(all[0]) - 1; i >= 0; i-- {
		if !drop[all[0][i]] {
			keep = append(keep, i)
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, row := range all {
		out := make([]string, len(keep))
		for k, i := range keep {
			out[k] = row[i]
		}
		if err := w.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()

	read := func(b []byte) *ExportRecord {
		r, err := NewExportReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		recs, errs := readAllRecords(t, r)
		if len(recs) != 1 || len(errs) != 0 {
			t.Fatalf("%d records, errors %v", len(recs), errs)
		}
		return recs[0]
	}
	orig, moved := read(data), read(buf.Bytes())
	if orig.Service.Text == "" || moved.Service.Text != "" {
		t.Errorf("service text %q / %q", orig.Service.Text, moved.Service.Text)
	}
	orig.Service.Text = ""
	// Conflicts come in header order, which was reversed.
	if !slices.Equal(orig.Conflicts, []string{"web_vulnerability", "impact_integrity", "impact_availability"}) ||
		!slices.Equal(moved.Conflicts, []string{"impact_availability", "impact_integrity", "web_vulnerability"}) {
		t.Errorf("conflicts %v / %v", orig.Conflicts, moved.Conflicts)
	}
	moved.Conflicts = orig.Conflicts
	if !reflect.DeepEqual(orig, moved) {
		t.Errorf("reordered export reads differently:\n%+v\n%+v", orig, moved)
	}
}
