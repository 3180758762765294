package config

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"
	"time"
)

// hookTimeout bounds one systemctl call.
const hookTimeout = 2 * time.Minute

// runHooks runs the settings' hooks whose paths changed, in order, and
// returns the commands it ran.
func runHooks(o Options, changed []string) ([][]string, error) {
	var ran [][]string
	for _, h := range o.Settings.Hooks {
		if !h.matches(changed) {
			continue
		}
		args := h.args()
		ran = append(ran, append([]string{o.Systemctl}, args...))
		ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
		out, err := exec.CommandContext(ctx, o.Systemctl, args...).CombinedOutput()
		cancel()
		if err != nil {
			return ran, fmt.Errorf("%s %s %s: %v: %s", o.Systemctl, args[0], args[1], err, tailOf(out))
		}
	}
	return ran, nil
}

func tailOf(b []byte) []byte {
	if len(b) > 512 {
		return b[len(b)-512:]
	}
	return b
}

// record moves the blob into dir (applied or rejected) beside it and writes
// r as a JSON record next to it. It returns the blob's new path, or ""
// when it could not be moved (the blob is missing, or its directory is
// read-only): the result says what happened either way.
//
// The blob's folder belongs to the upload user, who may have placed links
// there in advance: everything goes through an os.Root on that folder, so
// no link leads root's rename or write outside it, and the record is
// created, never written through an existing name.
func record(o Options, r *Result, dir string) string {
	root, err := os.OpenRoot(filepath.Dir(o.Blob))
	if err != nil {
		return ""
	}
	defer root.Close()
	base := filepath.Base(o.Blob)
	h := sha256.New()
	if f, err := openBlob(root, base); err == nil {
		io.Copy(h, f)
		f.Close()
	}
	if err := root.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return ""
	}
	name := fmt.Sprintf("%s-epoch%d-%x", r.Time.Format("20060102T150405Z"), r.Epoch, h.Sum(nil)[:4])
	if err := root.Rename(base, path.Join(dir, name+".bin")); err != nil {
		return ""
	}
	target := filepath.Join(filepath.Dir(o.Blob), dir, name+".bin")
	r.Record = target
	js, _ := json.MarshalIndent(r, "", "  ")
	if f, err := root.OpenFile(path.Join(dir, name+".json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Write(append(js, '\n'))
		f.Close()
	}
	return target
}

// openBlob opens the blob name in its folder's root: a regular file, in
// the folder or reached by a link that stays in it. O_NONBLOCK keeps a
// FIFO put in its place from blocking the open.
func openBlob(root *os.Root, name string) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%v)", name, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
