package main

import (
	"context"
	"io"
)

// runServe is wired to the checks once attest/quote, ima, flavor and
// report are on main.
func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	return usageError{"serve: not built yet"}
}
