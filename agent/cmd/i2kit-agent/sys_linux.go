package main

import (
	"fmt"
	"syscall"
)

// Filesystem magic numbers (linux/magic.h): both live in memory only.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// checkTmpfs refuses a directory that is not on tmpfs: a secret is never written to disk.
func checkTmpfs(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Type != tmpfsMagic && st.Type != ramfsMagic {
		return fmt.Errorf("%s is not on tmpfs (filesystem type 0x%x): a secret is never written to disk", dir, st.Type)
	}
	return nil
}
