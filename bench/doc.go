// Package bench measures TEP beside its limits and its peers, side by side
// in one run, and reports medians, tails and ratios. Each measurement
// interleaves the systems it compares in short rounds, so that a noisy
// neighbour or a frequency change hits both alike.
//
// Nothing here asserts a time: it reports. The tep-bench command prints
// the results as a table or as JSON.
package bench
