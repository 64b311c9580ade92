package faraday

import (
	"encoding/csv"
	"errors"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// benchHeader is the column list of Faraday's vulns export (same names, same
// order as a real export).
var benchHeader = strings.Join([]string{
	"confirmed", "id", "date", "name", "severity", "service", "target", "desc", "status", "hostnames", "owner", "os",
	"resolution", "refs", "easeofresolution", "web_vulnerability", "data", "website", "path", "status_code", "request",
	"response", "method", "params", "pname", "query", "cve", "cvss2_vector_string", "cvss2_base_score",
	"cvss3_vector_string", "cvss3_base_score", "cwe", "risk_score", "risk_severity", "policyviolations", "external_id",
	"impact_confidentiality", "impact_integrity", "impact_availability", "impact_accountability", "update_date", "tags",
	"cf_category", "host_id", "host_description", "mac", "host_owned", "host_creator_id", "host_date",
	"host_update_date", "host_tags", "service_id", "service_name", "service_description", "service_owned", "port",
	"protocol", "summary", "version", "service_status", "service_creator_id", "service_date", "service_update_date",
	"service_parent_id", "service_tags",
}, ",") + "\n"

// The row around its id: a service-parented web vuln with a two-line quoted
// description holding doubled quotes, Python lists, both date forms.
const (
	benchRowHead = "TRUE,"
	benchRowTail = `,2026-03-04T05:06:07.123456+00:00,Stored XSS in the comment form,high,` +
		`status:open - protocol:tcp - name:https - summary:(443/tcp) https - version: - ports:443,10.1.2.3,` +
		`"The comment field is written back without encoding, so ""<script>"" runs in the reader's browser.` + "\n" +
		`Any visitor of the page is affected.",open,"['shop.example.com', 'www.example.com']",alice,Linux,Encode output,` +
		`"[{'type': 'other', 'name': 'https://owasp.org/xss'}, {'type': 'patch', 'name': 'https://example.com/fix'}]",` +
		`simple,TRUE,,shop.example.com,/comments,200,,,POST,body,comment,,"['CVE-2026-1234']",,,` +
		`CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N,6.1,"['CWE-79']",61,medium,[],ext-1,TRUE,TRUE,FALSE,FALSE,` +
		`2026-03-04T05:06:08.000001+00:00,"['web']",web,52,,,FALSE,1,2026-03-04 05:00:00,2026-03-04 05:00:01,[],92,https,,` +
		`FALSE,443,tcp,(443/tcp) https,,open,1,2026-03-04 05:00:02,2026-03-04 05:00:03,52,[]` + "\n"
)

// exportGen produces a CSV export of n rows with distinct ids on the fly,
// so that neither benchmark holds the file in memory.
type exportGen struct {
	n, next int
	buf     []byte
	off     int
}

func newExportGen(n int) *exportGen {
	return &exportGen{n: n, buf: []byte(benchHeader)}
}

func (g *exportGen) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if g.off == len(g.buf) {
			if g.next == g.n {
				break
			}
			g.next++
			g.buf = append(g.buf[:0], benchRowHead...)
			g.buf = strconv.AppendInt(g.buf, int64(g.next), 10)
			g.buf = append(g.buf, benchRowTail...)
			g.off = 0
		}
		k := copy(p, g.buf[g.off:])
		g.off += k
		p = p[k:]
		total += k
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// heapBytes reads the live heap after a GC (runtime/metrics).
func heapBytes() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkExportReader reads a generated export of 100,000 rows with
// distinct ids (1,000 under MESD_BENCH_SMALL=1) with the ExportReader, next
// to the baseline: encoding/csv alone reading the same bytes (ReuseRecord,
// no conversion). The ratio of the two ns/op is the reader's overhead;
// heap-B is the live heap after a GC with the reader at its end.
func BenchmarkExportReader(b *testing.B) {
	rows := benchSize(100_000, 1_000)
	b.Run("encoding-csv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cr := csv.NewReader(newExportGen(rows))
			cr.ReuseRecord = true
			n := 0
			for {
				_, err := cr.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows+1 {
				b.Fatalf("%d records", n)
			}
		}
		b.ReportMetric(float64(rows), "rows/op")
	})
	b.Run("export-reader", func(b *testing.B) {
		b.ReportAllocs()
		var r *ExportReader
		for b.Loop() {
			var err error
			r, err = NewExportReader(newExportGen(rows))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				rec, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if rec.Vuln.Severity != SeverityHigh || len(rec.Vuln.Refs) != 2 {
					b.Fatalf("record %+v", rec.Vuln)
				}
				n++
			}
			if n != rows {
				b.Fatalf("%d records", n)
			}
		}
		b.ReportMetric(float64(rows), "rows/op")
		b.ReportMetric(float64(heapBytes()), "heap-B")
		runtime.KeepAlive(r)
	})
}

// TestExportReaderMemoryFollowsIDs reads 50,000 rows (2,000 under
// MESD_BENCH_SMALL=1) that repeat 50 ids in adjacent groups: the live heap
// with the reader at its end must not grow with the file. The bound (4 MiB
// above the start) is far below the file's size.
func TestExportReaderMemoryFollowsIDs(t *testing.T) {
	rows := benchSize(50_000, 2_000)
	g := &groupGen{exportGen: exportGen{n: rows, buf: []byte(benchHeader)}, group: rows / 50}
	before := heapBytes()
	r, err := NewExportReader(g)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Rows != rows/50 {
			t.Fatalf("record of %d rows", rec.Rows)
		}
		n++
	}
	after := heapBytes()
	runtime.KeepAlive(r)
	if n != 50 || r.Stats().Merged != rows-50 {
		t.Fatalf("%d records, stats %+v", n, r.Stats())
	}
	fileSize := int64(len(benchHeader)) + int64(rows)*int64(len(benchRowHead)+len(benchRowTail)+6)
	if grew := int64(after) - int64(before); grew > 4<<20 {
		t.Errorf("live heap grew by %d bytes for a %d-byte file", grew, fileSize)
	}
}

// groupGen is exportGen with each id repeated on group adjacent rows.
type groupGen struct {
	exportGen
	group int
}

func (g *groupGen) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if g.off == len(g.buf) {
			if g.next == g.n {
				break
			}
			g.next++
			g.buf = append(g.buf[:0], benchRowHead...)
			g.buf = strconv.AppendInt(g.buf, int64((g.next-1)/g.group+1), 10)
			g.buf = append(g.buf, benchRowTail...)
			g.off = 0
		}
		k := copy(p, g.buf[g.off:])
		g.off += k
		p = p[k:]
		total += k
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}
