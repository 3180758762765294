package archive

import "errors"

// The reasons Extract refuses an archive. Each is wrapped with the entry.
var (
	// ErrUnsafePath is an absolute path, a ".." component or an empty
	// name.
	ErrUnsafePath = errors.New("path leads outside the archive")
	// ErrUnsafeLink is a symbolic link whose target is absolute or leads
	// outside the archive.
	ErrUnsafeLink = errors.New("symbolic link leads outside the archive")
	// ErrEntryType is a hard link, device node, FIFO or any entry type
	// other than a file, directory or symbolic link.
	ErrEntryType = errors.New("entry type not allowed")
	// ErrMode is a set-user-ID, set-group-ID or sticky bit.
	ErrMode = errors.New("set-user-ID, set-group-ID or sticky bit")
	// ErrTooMany is an archive with more entries than the limit.
	ErrTooMany = errors.New("too many entries")
	// ErrTooLarge is an archive whose uncompressed bytes pass the limit.
	ErrTooLarge = errors.New("uncompressed size over the limit")
	// ErrCorrupt is data that is not a well-formed gzip'd tar.
	ErrCorrupt = errors.New("not a well-formed .tgz")
)
