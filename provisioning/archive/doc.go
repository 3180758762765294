// Package archive packs a configuration directory as a .tgz on the host
// and extracts one on the device, into a staging directory through
// os.Root, refusing the whole archive at the first entry that could reach
// outside it or exhaust the device: an absolute path, a ".." component, a
// symbolic link leading outside, a hard link, a device node or FIFO, a
// set-user-ID or set-group-ID bit, too many entries, or more uncompressed
// bytes than the limits allow (gzip bombs).
//
// Extraction writes only under the directory it is given, which the
// caller creates empty and removes when Extract fails: nothing is cleaned
// up here. Functions are safe for concurrent use on different directories.
package archive
