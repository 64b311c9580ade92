package mapping

import (
	"html"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/faraday"
)

// benchVuln returns a vuln whose text is size bytes in all, with the
// characters that need escaping and line breaks at realistic rates.
func benchVuln(size int) *faraday.Vuln {
	rng := rand.New(rand.NewSource(7))
	words := []string{"the", "server", "returns", "user", "input", "<script>", "a&b", "\"quoted\"", "it's", "header", "é", "\n", "value", "request"}
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.Intn(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	v := testVuln()
	v.Desc = text(size * 6 / 10)
	v.Resolution = text(size * 2 / 10)
	v.Data = text(size * 2 / 10)
	return v
}

func benchSizes() []int {
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		return []int{512}
	}
	return []int{2 << 10, 24 << 10}
}

// baselineDescription builds the same HTML as Mapper.Description for the
// default layout, the plain way: html.EscapeString, strings.ReplaceAll for
// line breaks, and a strings.Builder. It does not cut (the bench vulns fit).
func baselineDescription(m *Mapper, v *faraday.Vuln) string {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
	}
	var b strings.Builder
	line := func(label, value string) {
		if strings.TrimSpace(value) != "" {
			b.WriteString("<b>" + label + ":</b> " + esc(value) + "<br>")
		}
	}
	section := func(title, text string) {
		if strings.TrimSpace(text) != "" {
			b.WriteString("<br><b>" + title + "</b><br>" + esc(text) + "<br>")
		}
	}
	line("Name", v.Name)
	line("Severity", severityLabel(v.Severity))
	line("Status", statusLabel(v.Status))
	line("Target", v.Target)
	line("Hostnames", strings.Join(v.Hostnames, ", "))
	line("Service", v.Service.Summary)
	line("CVE", strings.Join(v.CVE, ", "))
	line("CWE", strings.Join(v.CWE, ", "))
	c := v.CVSS3
	line("CVSS v3", strconv.FormatFloat(*c.BaseScore, 'f', -1, 64)+" ("+*c.BaseSeverity+") "+*c.VectorString)
	section("Description", v.Desc)
	section("Resolution", v.Resolution)
	section("Data", v.Data)
	b.WriteString("<br><b>References</b><br>")
	for _, r := range v.Refs {
		b.WriteString("- " + esc(r.Name))
		if r.Type != faraday.RefOther {
			b.WriteString(" (" + esc(string(r.Type)) + ")")
		}
		b.WriteString("<br>")
	}
	id := strconv.FormatInt(v.ID, 10)
	b.WriteString("<br>--<br><b>Faraday vuln:</b> <a href=\"" + html.EscapeString(m.VulnLink(v.WorkspaceName, v.ID)) + "\">")
	b.WriteString(v.WorkspaceName + "/" + id + "</a><br><b>Reference:</b> ")
	b.WriteString(m.Reference(v.WorkspaceName, v.ID).String())
	return b.String()
}

// benchMapper has a limit above the largest bench description, so that
// nothing is cut and both sides build the whole HTML.
func benchMapper(tb testing.TB) *Mapper {
	return testMapper(tb, func(c *Config) { c.Description.MaxBytes = 1 << 20 })
}

// TestBaselineBuildsTheSameHTML makes sure the benchmark compares equal
// work.
func TestBaselineBuildsTheSameHTML(t *testing.T) {
	m := benchMapper(t)
	for _, size := range append(benchSizes(), 512) {
		v := benchVuln(size)
		if got, want := m.Description(v), baselineDescription(m, v); got != want {
			t.Fatalf("size %d: descriptions differ\n got %q\nwant %q", size, got[:200], want[:200])
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	m := benchMapper(b)
	for _, size := range benchSizes() {
		v := benchVuln(size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := m.Request(v, "9"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDescription(b *testing.B) {
	m := benchMapper(b)
	for _, size := range benchSizes() {
		v := benchVuln(size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = m.Description(v)
			}
		})
	}
}

// BenchmarkBaselineDescription is the standard-library baseline for
// BenchmarkDescription and BenchmarkRequest.
func BenchmarkBaselineDescription(b *testing.B) {
	m := benchMapper(b)
	for _, size := range benchSizes() {
		v := benchVuln(size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = baselineDescription(m, v)
			}
		})
	}
}

func BenchmarkParseReference(b *testing.B) {
	m := testMapper(b, nil)
	d := m.Description(benchVuln(benchSizes()[0]))
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if _, ok := ParseReference(d); !ok {
			b.Fatal("no reference")
		}
	}
}
