//go:build !linux

package main

import "errors"

// checkTmpfs: the agent runs on Linux only; elsewhere no directory qualifies.
func checkTmpfs(dir string) error { return errors.New("tmpfs check: Linux only") }
