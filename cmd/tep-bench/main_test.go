package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLinkJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"link", "-scale", "0.01", "-json"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, errOut.String())
	}
	var res []struct {
		Size           int     `json:"size"`
		RawMedianNs    int64   `json:"raw_median_ns"`
		FramedMedianNs int64   `json:"framed_median_ns"`
		Throughput     float64 `json:"throughput_ratio"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(res) != 4 {
		t.Fatalf("got %d sizes, want 4", len(res))
	}
	for _, r := range res {
		if r.RawMedianNs <= 0 || r.FramedMedianNs <= 0 || r.Throughput <= 0 {
			t.Errorf("size %d: empty measurement %+v", r.Size, r)
		}
	}
}

func TestLinkTable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"link", "-scale", "0.01"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"payload", "32 B", "64 KiB", "1 MiB", "throughput ×raw"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nonsense"}, {"link", "-bogus"}} {
		var out bytes.Buffer
		if err := run(args, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}
