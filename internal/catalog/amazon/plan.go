package amazon

import (
	"fmt"
	"sort"
	"strings"

	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// Plan is one promotion or rollback of an autoscaling group: what
// --dry-run prints and what Execute does, step by step.
type Plan struct {
	Action string `json:"action"` // "promote" or "rollback"
	Region string `json:"region"`
	Group  string `json:"group"`
	// The group's launch template and how the group refers to it.
	TemplateID   string `json:"template_id"`
	TemplateName string `json:"template_name"`
	VersionSpec  string `json:"version_spec"`
	Mixed        bool   `json:"mixed_instances_policy,omitempty"`
	mixed        *astypes.MixedInstancesPolicy
	// Before: the version the group launches now and its image (From may
	// be nil when that image is gone; FromImage is its id).
	FromVersion int64  `json:"from_version"`
	FromImage   string `json:"from_image"`
	From        *Image `json:"from,omitempty"`
	// After: the image, and the version that will hold it. NewVersion is
	// the number the version is expected to get (the template's latest
	// plus one); 0 when the group already launches To, and only the
	// refresh and the tags remain.
	To         *Image `json:"to"`
	NewVersion int64  `json:"new_version,omitempty"`
	// Switch is how the group is moved to the new version: "refresh" (the
	// refresh's desired configuration: when it succeeds, AWS sets the
	// group to the version), "default" (set the template's default
	// version: the group uses $Default), "group" (update the group: it
	// names a version number), "latest" (creating the version switches a
	// group on $Latest) or "" (no new version). Pin, with "refresh" for a
	// group on $Latest: first make the group name the version it launches
	// (FromVersion), so that creating the new one changes nothing yet.
	Switch string `json:"switch,omitempty"`
	Pin    bool   `json:"pin,omitempty"`
	// Record is what the new version's description records, Description
	// that description.
	Record      *Record `json:"record,omitempty"`
	Description string  `json:"description,omitempty"`
	// Basis says how a rollback chose its release; Skipped what it passed
	// over, and why.
	Basis   string   `json:"basis,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
	// Warnings are said loudly: a revoked release promoted with --force.
	Warnings []string `json:"warnings,omitempty"`
	// CancelRefresh is the id of a refresh in progress to cancel first.
	CancelRefresh string `json:"cancel_refresh,omitempty"`
	// Refresh is the instance refresh to start; nil with --no-refresh.
	Refresh *RefreshSpec `json:"refresh,omitempty"`
	// GroupTags are written on the group (not propagated to instances):
	// the release it runs and the last change, for the record.
	GroupTags map[string]string `json:"group_tags"`
	// Affects names other groups whose launches change too (they use the
	// same template's $Default or $Latest).
	Affects []string `json:"affects,omitempty"`
	// Diff is what the group will run differently.
	Diff *catalog.Diff `json:"diff,omitempty"`
}

type stepKind int

const (
	stepCancel stepKind = iota
	stepPin
	stepCreate
	stepSwitch
	stepRefresh
	stepTag
)

type step struct {
	kind stepKind
	text string
}

func (p *Plan) template() string {
	return fmt.Sprintf("%s (%s)", p.TemplateName, p.TemplateID)
}

// target is the version the group launches once the plan is done.
func (p *Plan) target() int64 {
	if p.NewVersion != 0 {
		return p.NewVersion
	}
	return p.FromVersion
}

func (p *Plan) steps() []step {
	var s []step
	if p.CancelRefresh != "" {
		s = append(s, step{stepCancel, fmt.Sprintf("cancel instance refresh %s of %s and wait until it stops", p.CancelRefresh, p.Group)})
	}
	if p.Pin {
		s = append(s, step{stepPin, fmt.Sprintf("update group %s to launch template version %d, which its %s is now (no instance changes): creating version %d then changes nothing until the refresh",
			p.Group, p.FromVersion, p.VersionSpec, p.NewVersion)})
	}
	if p.NewVersion != 0 {
		text := fmt.Sprintf("create version %d of launch template %s from version %d with ImageId %s, description %q",
			p.NewVersion, p.template(), p.FromVersion, p.To.ID, p.Description)
		if p.Switch == "latest" {
			text += fmt.Sprintf(": the group uses $Latest, so new instances launch %s at once", p.To.ID)
		}
		s = append(s, step{stepCreate, text})
		switch p.Switch {
		case "default":
			s = append(s, step{stepSwitch, fmt.Sprintf("make version %d the default version of %s (group %s uses $Default)", p.NewVersion, p.template(), p.Group)})
		case "group":
			s = append(s, step{stepSwitch, fmt.Sprintf("update group %s to launch template version %d (it names version %s)", p.Group, p.NewVersion, p.VersionSpec)})
		}
	}
	if p.Refresh != nil {
		text := fmt.Sprintf("start an instance refresh of %s (%s)", p.Group, p.Refresh)
		if p.VersionSpec != fmt.Sprint(p.Refresh.DesiredVersion) {
			text += fmt.Sprintf("; when it succeeds, AWS sets the group to launch template version %d", p.Refresh.DesiredVersion)
			if p.VersionSpec == "$Default" {
				text += " (it names $Default now)"
			}
		}
		s = append(s, step{stepRefresh, text})
	}
	s = append(s, step{stepTag, fmt.Sprintf("tag group %s: %s", p.Group, formatTags(p.GroupTags))})
	return s
}

func formatTags(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(parts, " ")
}

// String renders the plan as --dry-run prints it.
func (p *Plan) String() string {
	var b strings.Builder
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", w)
	}
	fmt.Fprintf(&b, "%s autoscaling group %s in %s\n", p.Action, p.Group, p.Region)
	via := ""
	if p.Mixed {
		via = ", through its mixed instances policy"
	}
	fmt.Fprintf(&b, "  launch template %s; the group uses %s%s\n", p.template(), p.VersionSpec, via)
	from := p.FromImage
	if p.From != nil {
		from = p.From.Label()
	}
	fmt.Fprintf(&b, "  before: version %d, %s\n", p.FromVersion, from)
	if p.NewVersion != 0 {
		fmt.Fprintf(&b, "  after:  version %d, %s\n", p.NewVersion, p.To.Label())
	} else {
		fmt.Fprintf(&b, "  after:  version %d, %s (the group already launches this image)\n", p.FromVersion, p.To.Label())
	}
	if p.Basis != "" {
		fmt.Fprintf(&b, "  why:    %s\n", p.Basis)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "  skipped %s\n", s)
	}
	if p.Diff != nil {
		b.WriteString("  changes: " + strings.TrimLeft(p.Diff.Format("  "), " "))
	}
	for i, s := range p.steps() {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, s.text)
	}
	if p.Refresh == nil {
		fmt.Fprintf(&b, "  no instance refresh (--no-refresh): running instances keep %s; new ones launch with %s\n", p.FromImage, p.To.ID)
	} else if p.Refresh.NoAutoRollback != "" {
		fmt.Fprintf(&b, "  no auto rollback: %s\n", p.Refresh.NoAutoRollback)
	}
	for _, a := range p.Affects {
		fmt.Fprintf(&b, "  warning: %s\n", a)
	}
	return b.String()
}
