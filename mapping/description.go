package mapping

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vulndesk/mesd/faraday"
)

// htmlBuilder writes the description and remembers which stretches are
// markup (never cut) and which are escaped text (cut only between
// characters, never inside an entity or a <br>).
type htmlBuilder struct {
	b     strings.Builder
	marks []mark
}

type mark struct {
	end  int
	text bool
}

func (h *htmlBuilder) markup(s string) {
	h.b.WriteString(s)
	h.marks = append(h.marks, mark{end: h.b.Len()})
}

// text writes vuln text escaped once: & < > " ' as entities, line breaks
// (CR LF, CR, LF) as <br>, invalid UTF-8 as U+FFFD, other control
// characters except tab dropped.
func (h *htmlBuilder) text(s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		k := escapeClass[c]
		if k == escKeep {
			continue
		}
		h.b.WriteString(s[last:i])
		last = i + 1
		switch k {
		case escEntity:
			h.b.WriteString(entities[c])
		case escBreak:
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
				last = i + 1
			}
			h.b.WriteString("<br>")
		}
		// escDrop: the byte is left out.
	}
	h.b.WriteString(s[last:])
	h.marks = append(h.marks, mark{end: h.b.Len(), text: true})
}

const (
	escKeep = iota
	escEntity
	escBreak
	escDrop
)

// escapeClass says what text() does with each byte: the five characters
// html.EscapeString escapes become the same entities, CR and LF become
// <br>, other control characters except tab are dropped.
var escapeClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = escDrop
	}
	t['\t'] = escKeep
	t[0x7f] = escDrop
	t['\n'], t['\r'] = escBreak, escBreak
	for _, c := range "&<>\"'" {
		t[c] = escEntity
	}
	return t
}()

var entities = [256]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&#34;", '\'': "&#39;"}

// cut returns the builder's HTML cut to at most n bytes: before a markup
// stretch that does not fit whole, or inside an escaped text stretch at a
// rune boundary that is not inside an entity or tag.
func (h *htmlBuilder) cut(n int) string {
	s := h.b.String()
	if len(s) <= n {
		return s
	}
	start := 0
	for _, mk := range h.marks {
		if mk.end <= n {
			start = mk.end
			continue
		}
		if !mk.text {
			return s[:start]
		}
		return s[:safeCut(s, start, n)]
	}
	return s[:start]
}

// safeCut finds the largest cut ≤ n in escaped text s[start:] that splits
// no rune, entity or tag.
func safeCut(s string, start, n int) int {
	for n > start && !utf8.RuneStart(s[n]) {
		n--
	}
	// Inside an entity ("&amp;") or a tag ("<br>")? Back off to its start.
	for i := n - 1; i >= start && i >= n-8; i-- {
		switch s[i] {
		case ';', '>':
			return n
		case '&', '<':
			return i
		}
	}
	return n
}

// Description returns the request description of a vuln: HTML with every
// piece of vuln text escaped exactly once (text that is already escaped,
// such as "&lt;b&gt;", shows literally), line breaks kept as <br>, the
// configured sections in order, then the footer: the link back to the vuln
// in Faraday and the Reference. When the whole is larger than the
// configured limit, the body is cut (never inside a character, entity or
// tag), a note says so, and the footer is kept whole. A vuln whose
// workspace is not a Faraday workspace name or whose id is not positive
// (Request refuses it) gets no Reference, and its workspace is escaped.
func (m *Mapper) Description(v *faraday.Vuln) string {
	ws := v.WorkspaceName
	id := strconv.FormatInt(v.ID, 10)
	h := htmlBuilder{marks: make([]mark, 0, 48)}
	h.b.Grow(m.estimate(v))
	if m.intro != "" {
		h.text(m.intro)
		h.markup("<br><br>")
	}
	for _, s := range m.sections {
		m.section(&h, s, v)
	}

	var f strings.Builder
	f.Grow(256)
	f.WriteString("<br>--<br><b>Faraday vuln:</b> <a href=\"")
	var link strings.Builder
	m.writeVulnLink(&link, ws, id)
	writeAttr(&f, link.String())
	f.WriteString("\">")
	// The workspace is escaped like any vuln text: Request refuses a
	// workspace that is not a Faraday workspace name, but Description
	// may be called on its own with any vuln.
	writeAttr(&f, ws)
	f.WriteByte('/')
	f.WriteString(id)
	f.WriteString("</a>")
	if checkKey(ws, v.ID) == nil {
		f.WriteString("<br><b>Reference:</b> ")
		m.Reference(ws, v.ID).writeTo(&f)
	}
	footer := f.String()

	body := h.b.String()
	if len(body)+len(footer) > m.maxBytes {
		body = h.cut(m.maxBytes-len(footer)-len(truncatedNote)) + truncatedNote
	}
	return body + footer
}

const truncatedNote = "<br><br><i>[Cut to fit ServiceDesk's size limit: the whole vuln is in Faraday, linked below.]</i>"

// writeAttr writes an attribute value escaped.
func writeAttr(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
}

func (m *Mapper) estimate(v *faraday.Vuln) int {
	n := 1024 + len(m.intro) + len(v.Name) + len(v.Target) + len(v.Desc) + len(v.Resolution) + len(v.Data)
	n += n / 8
	if n > m.maxBytes+1024 {
		n = m.maxBytes + 1024
	}
	return n
}

func (m *Mapper) section(h *htmlBuilder, s string, v *faraday.Vuln) {
	switch s {
	case SectionSummary:
		m.summary(h, v)
	case SectionDescription:
		textSection(h, "Description", vulnDesc(v))
	case SectionResolution:
		textSection(h, "Resolution", v.Resolution)
	case SectionData:
		textSection(h, "Data", v.Data)
	case SectionReferences:
		if len(v.Refs) == 0 {
			return
		}
		wrote := false
		for _, r := range v.Refs {
			if strings.TrimSpace(r.Name) == "" {
				continue
			}
			if !wrote {
				h.markup("<br><b>References</b><br>")
				wrote = true
			}
			h.markup("- ")
			h.text(r.Name)
			if r.Type != "" && r.Type != faraday.RefOther {
				h.markup(" (")
				h.text(string(r.Type))
				h.markup(")")
			}
			h.markup("<br>")
		}
	case SectionWeb:
		var sc string
		if v.StatusCode != nil && *v.StatusCode != 0 {
			sc = strconv.Itoa(*v.StatusCode)
		}
		web := [...][2]string{
			{"Website", v.Website}, {"Path", v.Path}, {"Method", v.Method}, {"Parameters", v.Params},
			{"Parameter name", v.ParamName}, {"Query", v.Query}, {"Status code", sc},
		}
		header := false
		for _, kv := range web {
			if strings.TrimSpace(kv[1]) == "" {
				continue
			}
			if !header {
				h.markup("<br><b>Web</b><br>")
				header = true
			}
			line(h, kv[0], kv[1])
		}
	}
}

// vulnDesc is the vuln's description: desc, or the read-only copy.
func vulnDesc(v *faraday.Vuln) string {
	if v.Desc != "" {
		return v.Desc
	}
	return v.Description
}

func textSection(h *htmlBuilder, title, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	h.markup("<br><b>" + title + "</b><br>")
	h.text(text)
	h.markup("<br>")
}

func line(h *htmlBuilder, label, value string) {
	if strings.TrimSpace(value) == "" {
		return
	}
	h.markup("<b>" + label + ":</b> ")
	h.text(value)
	h.markup("<br>")
}

func (m *Mapper) summary(h *htmlBuilder, v *faraday.Vuln) {
	line(h, "Name", v.Name)
	line(h, "Severity", severityLabel(v.Severity))
	line(h, "Status", statusLabel(v.Status))
	line(h, "Target", v.Target)
	if len(v.Hostnames) > 0 {
		line(h, "Hostnames", strings.Join(v.Hostnames, ", "))
	}
	if v.Service != nil {
		line(h, "Service", serviceText(v.Service))
	}
	if len(v.CVE) > 0 {
		line(h, "CVE", strings.Join(v.CVE, ", "))
	}
	if len(v.CWE) > 0 {
		line(h, "CWE", strings.Join(v.CWE, ", "))
	}
	cvss(h, "CVSS v4", v.CVSS4)
	cvss(h, "CVSS v3", v.CVSS3)
	cvss(h, "CVSS v2", v.CVSS2)
}

// serviceText describes a service: its summary ("(443/tcp) https"), or
// what there is of port, protocol, name and version.
func serviceText(s *faraday.Service) string {
	if strings.TrimSpace(s.Summary) != "" {
		if s.Version != "" && !strings.Contains(s.Summary, s.Version) {
			return s.Summary + " " + s.Version
		}
		return s.Summary
	}
	var parts []string
	if s.Port > 0 {
		p := strconv.Itoa(s.Port)
		if s.Protocol != "" {
			p += "/" + s.Protocol
		}
		parts = append(parts, p)
	}
	for _, x := range []string{s.Name, s.Version} {
		if strings.TrimSpace(x) != "" {
			parts = append(parts, x)
		}
	}
	return strings.Join(parts, " ")
}

func cvss(h *htmlBuilder, label string, c *faraday.CVSS) {
	if c == nil {
		return
	}
	var parts []string
	if c.BaseScore != nil {
		parts = append(parts, strconv.FormatFloat(*c.BaseScore, 'f', -1, 64))
	}
	if c.BaseSeverity != nil && *c.BaseSeverity != "" {
		parts = append(parts, "("+*c.BaseSeverity+")")
	}
	if c.VectorString != nil && *c.VectorString != "" {
		parts = append(parts, *c.VectorString)
	}
	if len(parts) > 0 {
		line(h, label, strings.Join(parts, " "))
	}
}
