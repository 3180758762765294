package client

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"tep.dev/tep/channel"
)

// Config says how to reach the server. The zero value is completed by
// defaults: port /dev/ttyS4, a 5 s answer timeout at start.
type Config struct {
	Port         string        // tty path or unix:PATH
	Baud         int           // 0: leave the line speed alone
	StartTimeout time.Duration // how long C_Initialize waits for the server
	CallTimeout  time.Duration // how long any call waits for its reply
	KeepAlive    time.Duration // interval of keep-alive calls; 0: default
	// Spin is how long a wait for a reply on a tty keeps the thread
	// running before it sleeps (see link.TTY.SetSpin); 0: default,
	// negative: never.
	Spin time.Duration
	// RawWaits makes waits on a tty raw system calls that keep the
	// thread's P (see link.TTY.SetRawWaits): for the provider, whose
	// threads are the application's.
	RawWaits bool
	// ServerKey, when set, is the only server static key the client
	// accepts (TEP_SERVER_KEY); nil accepts any and leaves the caller to
	// say so.
	ServerKey *channel.PublicKey
}

// Environment variables read by FromEnv.
const (
	EnvPort         = "TEC_COMM_PORT"
	EnvBaud         = "TEP_BAUD"
	EnvStartTimeout = "TEP_START_TIMEOUT" // a Go duration, e.g. 5s
	EnvCallTimeout  = "TEP_CALL_TIMEOUT"
	EnvLog          = "TEP_LOG"  // file for diagnostics instead of stderr
	EnvSpin         = "TEP_SPIN" // a Go duration; 0 never spins
	// EnvServerKey pins the server's static key: the key in base64
	// (as tepd init and tepd key print it) or the path of a file
	// holding it.
	EnvServerKey = "TEP_SERVER_KEY"
)

// Defaults.
const (
	DefaultPort         = "/dev/ttyS4"
	DefaultStartTimeout = 5 * time.Second
	DefaultCallTimeout  = 2 * time.Minute // key generation on a real TPM is slow
	DefaultKeepAlive    = 10 * time.Second
	// DefaultSpin covers a round trip and an ECDSA signature on swtpm.
	DefaultSpin = time.Millisecond
)

// FromEnv reads the configuration from the environment.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{Port: getenv(EnvPort)}
	var err error
	if v := getenv(EnvBaud); v != "" {
		if c.Baud, err = strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("%s=%q: not a number", EnvBaud, v)
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{EnvStartTimeout, &c.StartTimeout}, {EnvCallTimeout, &c.CallTimeout}} {
		if v := getenv(d.name); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive duration such as 5s", d.name, v)
			}
		}
	}
	if v := getenv(EnvServerKey); v != "" {
		k, err := serverKey(v)
		if err != nil {
			return c, err
		}
		c.ServerKey = &k
	}
	if v := getenv(EnvSpin); v != "" {
		if c.Spin, err = time.ParseDuration(v); err != nil || c.Spin < 0 {
			return c, fmt.Errorf("%s=%q: want a duration such as 1ms, or 0", EnvSpin, v)
		}
		if c.Spin == 0 {
			c.Spin = -1
		}
	}
	return c, nil
}

// serverKey reads TEP_SERVER_KEY: a key, or else a file holding one. A
// value that is neither names both failures, as a person can only tell
// which one was meant.
func serverKey(v string) (channel.PublicKey, error) {
	k, err := channel.ParsePublicKey(v)
	if err == nil {
		return k, nil
	}
	b, ferr := os.ReadFile(v)
	if ferr != nil {
		return k, fmt.Errorf("%s: neither a key (%v) nor a readable file (%v)", EnvServerKey, err, ferr)
	}
	if k, err = channel.ParsePublicKey(string(b)); err != nil {
		return k, fmt.Errorf("%s: file %s: %w", EnvServerKey, v, err)
	}
	return k, nil
}

// withDefaults returns a copy of c with every zero field defaulted.
func (c Config) withDefaults() Config {
	if c.Port == "" {
		c.Port = DefaultPort
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Spin == 0 {
		c.Spin = DefaultSpin
	}
	return c
}

// LogFile opens the diagnostics destination named by TEP_LOG, or returns
// stderr.
func LogFile(getenv func(string) string) *os.File {
	if p := getenv(EnvLog); p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			return f
		}
	}
	return os.Stderr
}
