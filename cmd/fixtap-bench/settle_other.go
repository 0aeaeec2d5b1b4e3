//go:build !unix

package main

import "context"

// settle does nothing where there is no sync(2); see settle_unix.go.
func settle(context.Context) {}
