//go:build unix

package sqlite

import "syscall"

// freeBytes is the space left to unprivileged users on the file system
// holding dir.
func freeBytes(dir string) (uint64, bool) {
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) != nil {
		return 0, false
	}
	return fs.Bavail * uint64(fs.Bsize), true
}
