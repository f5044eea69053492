package amazon

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Record is what a launch template version pipbake made says of itself,
// in its description (launch template versions cannot be changed, so the
// record is as lasting as the version):
//
//	pipbake promote, from version 3: api@7 ami-0abc (was api@5 ami-0def)
//	pipbake rollback, from version 4, restores version 3: api@5 ami-0def (was api@7 ami-0abc)
//
// From is the version the group launched before this one; Restores, for a
// rollback, the version whose image it went back to, so that a further
// rollback goes on from there instead of returning. The labels after the
// colon are for people; the image is the version's own ImageId.
type Record struct {
	Action   string `json:"action"` // "promote" or "rollback"
	From     int64  `json:"from_version"`
	Restores int64  `json:"restores_version,omitempty"`
}

// MaxDescription is AWS's limit on a launch template version description.
const MaxDescription = 255

// Describe renders r as the description of a new version: the record,
// then to and was (labels), cut to fit.
func (r Record) Describe(to, was string) string {
	s := fmt.Sprintf("pipbake %s, from version %d", r.Action, r.From)
	if r.Restores != 0 {
		s += fmt.Sprintf(", restores version %d", r.Restores)
	}
	return truncate(fmt.Sprintf("%s: %s (was %s)", s, to, was), MaxDescription)
}

var (
	recordRe = regexp.MustCompile(`^pipbake (promote|rollback), from version ([0-9]{1,18})(?:, restores version ([0-9]{1,18}))?:`)
	// What pipbake wrote before records had their own prefix.
	legacyRe = regexp.MustCompile(`^pipbake (promote|rollback) .*\(was .*, version ([0-9]{1,18})\)$`)
)

// ParseRecord reads a version's description; ok is false unless pipbake
// wrote it. The versions it names are positive.
func ParseRecord(desc string) (r Record, ok bool) {
	if m := recordRe.FindStringSubmatch(desc); m != nil {
		r.Action = m[1]
		r.From, _ = strconv.ParseInt(m[2], 10, 64)
		if m[3] != "" {
			r.Restores, _ = strconv.ParseInt(m[3], 10, 64)
		}
		return r, r.From > 0 && (m[3] == "" || r.Restores > 0)
	}
	if m := legacyRe.FindStringSubmatch(desc); m != nil {
		r.Action = m[1]
		r.From, _ = strconv.ParseInt(m[2], 10, 64)
		return r, r.From > 0
	}
	return Record{}, false
}

// Entry is one launch template version in a group's history.
type Entry struct {
	Version     int64     `json:"version"`
	Image       string    `json:"image"`
	Created     time.Time `json:"created"`
	Description string    `json:"description,omitempty"`
	// Record is set on versions pipbake made.
	Record *Record `json:"record,omitempty"`
}

// History is what one launch template's versions say about the group
// that launches them.
type History struct {
	versions map[int64]TemplateVersion
}

// NewHistory indexes a launch template's versions.
func NewHistory(versions []TemplateVersion) *History {
	h := &History{versions: map[int64]TemplateVersion{}}
	for _, v := range versions {
		h.versions[v.Version] = v
	}
	return h
}

// entry returns version v, or nil when the template has no such version.
func (h *History) entry(v int64) *Entry {
	tv, ok := h.versions[v]
	if !ok {
		return nil
	}
	e := &Entry{Version: v, Image: tv.ImageID, Created: tv.Created, Description: tv.Description}
	if r, ok := ParseRecord(tv.Description); ok {
		e.Record = &r
	}
	return e
}

// link follows a record's link from v to an earlier version; links that
// do not point back are ignored, so every walk ends.
func (h *History) link(v, to int64) *Entry {
	if to <= 0 || to >= v {
		return nil
	}
	return h.entry(to)
}

// Ran returns the versions the group launched, newest first, from v (the
// one it launches now) back through each record's From: what it ran, and
// since when.
func (h *History) Ran(v int64) []Entry {
	var out []Entry
	for e := h.entry(v); e != nil; {
		out = append(out, *e)
		if e.Record == nil {
			break
		}
		e = h.link(e.Version, e.Record.From)
	}
	return out
}

// Before returns what the group ran before version v, nearest first:
// rollback's candidates. A promote's predecessor is its From; a
// rollback's is its restored version's predecessor, so that successive
// rollbacks walk back through the history instead of returning to the
// release just left. The list ends at a version pipbake did not make.
func (h *History) Before(v int64) []Entry {
	var out []Entry
	cur := h.entry(v)
	for cur != nil && cur.Record != nil {
		// A rollback stands for the version it restored.
		for cur != nil && cur.Record != nil && cur.Record.Restores != 0 {
			cur = h.link(cur.Version, cur.Record.Restores)
		}
		if cur == nil || cur.Record == nil {
			break
		}
		prev := h.link(cur.Version, cur.Record.From)
		if prev == nil {
			break
		}
		out = append(out, *prev)
		cur = prev
	}
	return out
}

// Run is a span during which a group launched a release: from the
// creation of a launch template version until the next one it launched
// (Until is zero for the version it launches now).
type Run struct {
	Group   string    `json:"group"`
	Version int64     `json:"version"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until,omitzero"`
	Current bool      `json:"current,omitempty"`
}

func (r Run) String() string {
	if r.Current {
		return fmt.Sprintf("runs on group %s since %s (version %d)", r.Group, r.Since.Format(time.RFC3339), r.Version)
	}
	return fmt.Sprintf("ran on group %s from %s to %s (version %d)", r.Group, r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.Version)
}

// runs returns, per image, the spans each group launched it, from the
// references' groups and template versions.
func (r *References) runs() map[string][]Run {
	byTemplate := map[string][]TemplateVersion{}
	for _, v := range r.Versions {
		byTemplate[v.TemplateID] = append(byTemplate[v.TemplateID], v)
	}
	out := map[string][]Run{}
	for _, g := range r.groups {
		h := NewHistory(byTemplate[g.templateID])
		ran := h.Ran(g.version)
		for i, e := range ran {
			run := Run{Group: g.name, Version: e.Version, Since: e.Created, Current: i == 0}
			if i > 0 {
				run.Until = ran[i-1].Created
			}
			out[e.Image] = append(out[e.Image], run)
		}
	}
	for _, list := range out {
		sort.SliceStable(list, func(i, j int) bool {
			if !list[i].Since.Equal(list[j].Since) {
				return list[i].Since.Before(list[j].Since)
			}
			return list[i].Version < list[j].Version
		})
	}
	return out
}
