package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// diff lists the paths that differ between the trees old and new: added,
// removed, or changed in type, mode, content or link target. A missing
// old counts as empty.
func diff(old, new string) ([]string, error) {
	a, err := summary(old)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, err := summary(new)
	if err != nil {
		return nil, err
	}
	var changed []string
	for name, s := range b {
		if a[name] != s {
			changed = append(changed, name)
		}
	}
	for name := range a {
		if _, ok := b[name]; !ok {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	return changed, nil
}

// summary maps each path under dir to its type, mode and content digest
// (or link target).
func summary(dir string) (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			m[filepath.ToSlash(rel)] = "l " + target
			return err
		case info.IsDir():
			m[filepath.ToSlash(rel)] = fmt.Sprintf("d %v", info.Mode())
			return nil
		}
		sum, err := digest(path)
		m[filepath.ToSlash(rel)] = fmt.Sprintf("f %v %x", info.Mode(), sum)
		return err
	})
	return m, err
}

func digest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
