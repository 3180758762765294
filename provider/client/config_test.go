package client

import (
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := FromEnv(env(map[string]string{EnvPort: "/dev/ttyS5", EnvBaud: "9600", EnvCallTimeout: "3s", EnvSpin: "250us"}))
	if err != nil || c.Port != "/dev/ttyS5" || c.Baud != 9600 || c.CallTimeout != 3*time.Second || c.Spin != 250*time.Microsecond {
		t.Errorf("FromEnv = %+v, %v", c, err)
	}
	if d := (Config{}).withDefaults(); d.Port != DefaultPort || d.Spin != DefaultSpin || d.StartTimeout != DefaultStartTimeout {
		t.Errorf("defaults = %+v", d)
	}
	// TEP_SPIN=0 turns spinning off, which the zero Config cannot say.
	c, err = FromEnv(env(map[string]string{EnvSpin: "0"}))
	if err != nil || c.withDefaults().Spin >= 0 {
		t.Errorf("TEP_SPIN=0: %+v, %v; want a negative Spin (never)", c, err)
	}
	for _, bad := range []map[string]string{
		{EnvBaud: "fast"}, {EnvStartTimeout: "0s"}, {EnvCallTimeout: "soon"}, {EnvSpin: "-1ms"}, {EnvSpin: "x"},
	} {
		if _, err := FromEnv(env(bad)); err == nil {
			t.Errorf("FromEnv(%v) accepted", bad)
		}
	}
}

func TestKeepAliveFor(t *testing.T) {
	for _, c := range []struct{ interval, lease, want time.Duration }{
		{10 * time.Second, time.Minute, 10 * time.Second},
		{10 * time.Second, 6 * time.Second, 2 * time.Second},
		{10 * time.Second, 0, 10 * time.Second}, // a server that says nothing
		{10 * time.Second, time.Millisecond, 10 * time.Millisecond},
	} {
		if got := keepAliveFor(c.interval, c.lease); got != c.want {
			t.Errorf("keepAliveFor(%v, %v) = %v, want %v", c.interval, c.lease, got, c.want)
		}
	}
}
