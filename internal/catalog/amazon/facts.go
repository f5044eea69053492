package amazon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// facts are what the image's tags say, for a diff.
func (im *Image) facts() catalog.Facts {
	if !im.IsRelease {
		return catalog.Facts{Label: im.ID, Sources: []string{"tags"}, Notes: []string{"not a pipbake release (no pipbake:family and pipbake:release tags)"}}
	}
	return catalog.FactsFromTags(im.Label(), im.Release)
}

// fromFacts are the facts of what the group launches now: its image's
// tags, or the group's own record when the image is gone.
func (cur *current) fromFacts() catalog.Facts {
	switch {
	case cur.image != nil:
		return cur.image.facts()
	case cur.isRel:
		f := catalog.FactsFromTags(cur.label(), cur.rel)
		f.Notes = append(f.Notes, "the image is gone: the group's tags stand for it")
		return f
	}
	return catalog.Facts{Label: cur.grp.Image, Notes: []string{"the image is gone"}}
}

// facts adds to f the receipts of its release from a receipts folder
// (receipts/<release>/), when there is one and they are that release's.
func (c *Catalog) facts(f catalog.Facts, receipts string) catalog.Facts {
	if receipts == "" || f.Release.Release == "" {
		return f
	}
	dir, err := catalog.ReleaseReceipts(receipts, f.Release.Release)
	if err == nil {
		_, err = os.Stat(dir)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Notes = append(f.Notes, fmt.Sprintf("no receipts of release %s in %s", f.Release.Release, receipts))
		return f
	case err != nil:
		f.Notes = append(f.Notes, err.Error())
		return f
	}
	files, err := catalog.ReadReceipts(dir)
	if err != nil {
		f.Notes = append(f.Notes, fmt.Sprintf("receipts %s not used: %v", dir, err))
		return f
	}
	return f.WithReceipts(dir, files)
}

// ImageFacts are an AMI's facts, for a diff: its tags, and its release's
// receipts from receipts/<release>/ when receipts is given (used when
// they are that release's).
func (c *Catalog) ImageFacts(ctx context.Context, id, receipts string) (catalog.Facts, error) {
	im, err := c.Image(ctx, id)
	if err != nil {
		return catalog.Facts{}, err
	}
	return c.facts(im.facts(), receipts), nil
}

// ReleaseFacts are the facts of the newest image of family's release rel.
func (c *Catalog) ReleaseFacts(ctx context.Context, family, rel, receipts string) (catalog.Facts, error) {
	list, err := c.familyImages(ctx, family)
	if err != nil {
		return catalog.Facts{}, err
	}
	im := findRelease(list, rel)
	if im == nil {
		return catalog.Facts{}, fmt.Errorf("family %s has no release %s in %s (%s)", family, rel, c.Region, releaseList(list))
	}
	return c.facts(im.facts(), receipts), nil
}
