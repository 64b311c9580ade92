package mapping

import (
	"errors"
	"strings"
	"testing"
)

func TestTagFormats(t *testing.T) {
	tests := []struct {
		format   string
		instance bool
		problems []string // parts of the expected problems, in order
	}{
		{DefaultTag, false, nil},
		{DefaultInstanceTag, true, nil},
		{DefaultInstanceTag, false, nil},
		{"(FRD {workspace}/{id})", false, nil},
		{"#{workspace}#{id}#", false, nil},
		{"FRD:{workspace}:{id}:", false, nil},
		{"[{instance}|{workspace}|{id}]", true, nil},
		{"", false, []string{"empty"}},
		{"[FRD {id}]", false, []string{"must contain {workspace}"}},
		{"[FRD {workspace}]", false, []string{"must contain {id}"}},
		{"[FRD {workspace}/{id}", false, []string{"{id} must be followed by a delimiter"}},
		{"[FRD {workspace}/{id}7]", false, []string{"{id} must be followed by a delimiter"}},
		{"[FRD {workspace}/{id}x]", false, []string{"{id} must be followed by a delimiter"}},
		{"[FRD {workspace}/{id} ]", false, []string{"{id} must be followed by a delimiter"}},
		{"[FRD {workspace}/{id}-]", false, nil},
		{"{workspace}/{id}]", false, []string{"must start with literal text"}},
		{"[FRD {workspace}{id}]", false, []string{"need literal text between them"}},
		{"[FRD-{workspace}/{id}]", false, []string{"'-' right before {workspace}"}},
		{"[FRD {workspace}_{id}]", false, []string{"'_' right after {workspace}"}},
		{"[FRD {workspace}/{id}/{id}]", false, []string{"{id} 2 times"}},
		{"[FRD {workspace}/{id}]", true, []string{"must contain {instance}"}},
		{"[FRD {instance}.{workspace}/{id}]", true, []string{"'.' right after {instance}"}},
		{"[FRD {ws}/{id}]", false, []string{"unknown placeholder {ws}"}},
		{"[FRD {workspace/{id}]", false, []string{"unknown placeholder {workspace/{id}"}},
		{"[FRD {workspace}/{id}] }", false, []string{"closes no placeholder"}},
		{"[FRD {workspace}/{id", false, []string{"never closed"}},
		{" [FRD {workspace}/{id}]", false, []string{"start with white space"}},
		{"[FRD {workspace}/{id}] ", false, []string{"end with white space"}},
		{"[FRD\t{workspace}/{id}]", false, []string{"one line"}},
	}
	for _, tc := range tests {
		got := ValidateTagFormat(tc.format, tc.instance)
		if len(got) != len(tc.problems) {
			t.Errorf("%q: problems %q, want %d like %q", tc.format, got, len(tc.problems), tc.problems)
			continue
		}
		for i, want := range tc.problems {
			if !strings.Contains(got[i], want) {
				t.Errorf("%q: problem %q does not contain %q", tc.format, got[i], want)
			}
		}
	}
}

// TestTagsNeverPrefixOrInfix: with a valid format, no vuln's tag is found
// inside another vuln's tag.
func TestTagsNeverPrefixOrInfix(t *testing.T) {
	for _, format := range []string{DefaultTag, DefaultInstanceTag, "#{workspace}#{id}#", "FRD:{instance}:{workspace}:{id}:"} {
		m := testMapper(t, func(c *Config) {
			c.Subject.Tag = format
			if strings.Contains(format, "{instance}") {
				c.InstanceLabel = "eu1"
			}
		})
		keys := []struct {
			ws string
			id int64
		}{{"a", 1}, {"a", 12}, {"a", 123}, {"ba", 1}, {"a1", 2}, {"a", 12}, {"a-b", 1}, {"b", 1}}
		var tags []string
		for _, k := range keys {
			tag, err := m.Tag(k.ws, k.id)
			if err != nil {
				t.Fatal(err)
			}
			tags = append(tags, tag)
		}
		for i, a := range tags {
			for j, b := range tags {
				if a != b && strings.Contains(b, a) {
					t.Errorf("format %q: tag %d %q is inside tag %d %q", format, i, a, j, b)
				}
			}
		}
	}
}

func TestTagRejectsBadKeys(t *testing.T) {
	m := testMapper(t, nil)
	for _, ws := range []string{"", "a b", "a/b", "a]b", "ä"} {
		if _, err := m.Tag(ws, 1); err == nil {
			t.Errorf("Tag(%q) accepted", ws)
		}
	}
	if _, err := m.Tag("a", -1); err == nil {
		t.Error("negative id accepted")
	}
}

func TestHasTag(t *testing.T) {
	m := testMapper(t, nil)
	tag, _ := m.Tag("acme", 1)
	for subject, want := range map[string]bool{
		"[FRD acme/1] SQLi":          true,
		"  [FRD acme/1] SQLi":        true,
		"re: [FRD acme/1]":           false,
		"[FRD acme/12] SQLi":         false,
		"[FRD xacme/1] SQLi":         false,
		"[FRD acme/10] [FRD acme/1]": false,
		"[frd acme/1]":               false,
	} {
		if got := HasTag(subject, tag); got != want {
			t.Errorf("HasTag(%q, %q) = %v", subject, tag, got)
		}
	}
	if HasTag("x", "") {
		t.Error("empty tag matched")
	}
	if m.InstanceLabel() != "" || testMapper(t, func(c *Config) { c.InstanceLabel = "eu" }).InstanceLabel() != "eu" {
		t.Error("InstanceLabel")
	}
}

// TestHasTagIgnoresForeignTagInName: a vuln whose (scanner-controlled)
// name quotes another vuln's tag does not carry that tag: only the tag
// that opens the subject counts.
func TestHasTagIgnoresForeignTagInName(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.ID = 5
	v.Name = "Open redirect, duplicate of [FRD acme/12]"
	subj, err := m.Subject(v)
	if err != nil {
		t.Fatal(err)
	}
	tag12, _ := m.Tag("acme", 12)
	tag5, _ := m.Tag("acme", 5)
	if HasTag(subj, tag12) {
		t.Errorf("subject of acme/5 %q is taken for acme/12's", subj)
	}
	if !HasTag(subj, tag5) || !HasTag("  "+subj, tag5) {
		t.Errorf("subject %q does not carry its own tag %q", subj, tag5)
	}
}

func TestSubjectFormatMustStartWithTag(t *testing.T) {
	for _, format := range []string{"{name} {tag}", "re: {tag} {name}", " {tag}"} {
		c := validConfig()
		c.Subject.Format = format
		err := c.Validate()
		var ps Problems
		if !errors.As(err, &ps) || !strings.Contains(err.Error(), "subject.format") || !strings.Contains(err.Error(), "must start with {tag}") {
			t.Errorf("format %q: Validate() = %v, want a subject.format problem", format, err)
		}
	}
	c := validConfig()
	c.Subject.Format = "{tag}: {name} on {target}"
	if err := c.Validate(); err != nil {
		t.Errorf("tag-first format rejected: %v", err)
	}
}
