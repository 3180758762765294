package verifier

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

func TestCheckPull(t *testing.T) {
	cert := []byte{0x30, 0x01}
	tests := []struct {
		name string
		pull Pull
		ok   bool
	}{
		{"push mode", Pull{}, true},
		{"https with certificate", Pull{URL: "https://10.0.0.1:9443", Cert: cert}, true},
		{"https without certificate", Pull{URL: "https://10.0.0.1:9443"}, false},
		{"certificate without URL", Pull{Cert: cert}, false},
		{"http", Pull{URL: "http://10.0.0.1:9443", Cert: cert}, false},
		{"https with a query", Pull{URL: "https://10.0.0.1:9443?x=1", Cert: cert}, false},
		{"own NATS URL", Pull{URL: "nats:trust-agent.h1"}, true},
		{"own NATS URL with a certificate", Pull{URL: "nats:trust-agent.h1", Cert: cert}, false},
		{"another host's NATS URL", Pull{URL: "nats:trust-agent.h2"}, false},
		{"NATS server URL", Pull{URL: "nats://127.0.0.1:4222"}, false},
		{"long URL", Pull{URL: "https://" + strings.Repeat("a", maxURLLen), Cert: cert}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPull("h1", tc.pull)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("checkPull(%+v) = %v, want ok %v", tc.pull, err, tc.ok)
			}
		})
	}
}

type fetchFunc func(store.Host) (attest.Evidence, error)

func (f fetchFunc) Fetch(_ context.Context, h store.Host, _ attest.QuoteRequest) (attest.Evidence, error) {
	return f(h)
}

func TestTransports(t *testing.T) {
	tr := Transports{
		"https": fetchFunc(func(store.Host) (attest.Evidence, error) { return attest.Evidence{HostID: "by https"}, nil }),
		"nats":  fetchFunc(func(store.Host) (attest.Evidence, error) { return attest.Evidence{HostID: "by nats"}, nil }),
	}
	for url, want := range map[string]string{"https://10.0.0.1:9443": "by https", "nats:trust-agent.h1": "by nats", "ftp://x": "", "%zz": ""} {
		ev, err := tr.Fetch(context.Background(), store.Host{ID: "h1", PullURL: url}, attest.QuoteRequest{})
		if ev.HostID != want || (err == nil) != (want != "") {
			t.Errorf("Fetch(%q) = %q, %v; want %q", url, ev.HostID, err, want)
		}
	}
}
