package cmdutil

import (
	"iter"

	"github.com/genericcorp/baton/pkg/api"
)

// CollectList gathers what a `list` command prints: every page from all
// when --all is set, else the first page from first. more reports that
// pages were left out (see HintMore). Errors: the first error of all or
// first.
func CollectList[T any](every bool, all iter.Seq2[T, error], first func() (api.List[T], error)) (items []T, more bool, err error) {
	items = []T{}
	if every {
		for item, err := range all {
			if err != nil {
				return nil, false, err
			}
			items = append(items, item)
		}
		return items, false, nil
	}
	page, err := first()
	if err != nil {
		return nil, false, err
	}
	return append(items, page.Data...), page.NextCursor != nil && *page.NextCursor != "", nil
}

// HintMore tells the user on stderr that a list was cut at one page (call
// it after printing, so the hint follows the table).
func (f *Factory) HintMore(more bool, what string) {
	if more {
		f.Infof("more: use --all to list every %s", what)
	}
}
