package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"tep.dev/tep/link"
	"tep.dev/tep/wire"
)

// LinkResult compares one payload size over the framed link with a raw
// echo over the same kind of pty pair, and gives the time the bare pty
// takes to carry the payload one way, from the guest's end to the
// server's: the floor under a call that sends much and gets little back,
// such as W5's digest of 1 MiB.
type LinkResult struct {
	Size   int    `json:"size"`
	Raw    Sample `json:"-"`
	Framed Sample `json:"-"`
	OneWay Sample `json:"-"`

	RawMedianNs    int64   `json:"raw_median_ns"`
	RawP99Ns       int64   `json:"raw_p99_ns"`
	FramedMedianNs int64   `json:"framed_median_ns"`
	FramedP99Ns    int64   `json:"framed_p99_ns"`
	RawMiBps       float64 `json:"raw_mib_s"`
	FramedMiBps    float64 `json:"framed_mib_s"`
	OneWayMedianNs int64   `json:"one_way_median_ns"`
	OneWayMiBps    float64 `json:"one_way_mib_s"`
	// Throughput is framed/raw throughput; Latency is framed/raw median.
	Throughput float64 `json:"throughput_ratio"`
	Latency    float64 `json:"latency_ratio"`
}

// LinkSizes are the payload sizes measured by default.
var LinkSizes = []int{32, 4 << 10, 64 << 10, 1 << 20}

// iterations picks a count that takes a fraction of a second per size.
func iterations(size int, scale float64) int {
	n := 2000
	switch {
	case size >= 1<<20:
		n = 40
	case size >= 64<<10:
		n = 300
	case size >= 4<<10:
		n = 1000
	}
	return max(10, int(float64(n)*scale))
}

// Link measures request/reply echoes of each size through the framed link
// (client → pty → Serve → pty → client) and, in alternating rounds, a raw
// echo on a second pty pair: write the payload, have the other side read
// all of it and write it back, read it. The raw echo is store-and-forward
// like a call, so it is the limit a request/reply protocol can reach on a
// pty. A third pair, in the same rounds, carries the payload one way: the
// guest's end writes it, the server's end reads all of it. dir holds the
// pty symlinks; scale multiplies the iteration counts.
func Link(dir string, sizes []int, scale float64) ([]LinkResult, error) {
	framedPTY, err := link.NewPTY(filepath.Join(dir, "bench-framed"))
	if err != nil {
		return nil, err
	}
	defer framedPTY.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go link.Serve(ctx, link.NewConn(framedPTY.Master, link.Config{}), nil)
	s, lock, err := link.Dial(framedPTY.Path, 0)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_ = lock
	client := link.NewClient(s, link.NewLock(nil), 1, time.Minute, link.Config{})

	oneWayPTY, oneWayEnd, err := ptyPair(filepath.Join(dir, "bench-one-way"))
	if err != nil {
		return nil, err
	}
	defer oneWayPTY.Close()
	defer oneWayEnd.Close()

	var out []LinkResult
	for _, size := range sizes {
		r, err := linkSize(client, filepath.Join(dir, "bench-raw"), oneWayPTY.Master, oneWayEnd, size, iterations(size, scale))
		if err != nil {
			return nil, fmt.Errorf("%d-byte echo: %w", size, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ptyPair is a pty with its guest's end open: the server's end is the
// pty's Master.
func ptyPair(path string) (*link.PTY, *link.TTY, error) {
	p, err := link.NewPTY(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := link.OpenTTY(p.Path, 0)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, t, nil
}

func linkSize(client *link.Client, rawPath string, sinkServer *os.File, sinkClient io.Writer, size, n int) (LinkResult, error) {
	payload := make([]byte, size)
	body, err := msgpack.Marshal(payload)
	if err != nil {
		return LinkResult{}, err
	}
	echo, err := newPTYEcho(rawPath, size)
	if err != nil {
		return LinkResult{}, err
	}
	defer echo.close()
	sunk, sinkDone := make(chan struct{}), make(chan error, 1)
	stopSink := make(chan struct{})
	go func() { sinkDone <- rawSink(sinkServer, size, stopSink, sunk) }()
	defer func() { close(stopSink); sinkClient.Write(payload); <-sinkDone }()

	rawOnce := echo.once
	oneWayOnce := func() error {
		if _, err := sinkClient.Write(payload); err != nil {
			return err
		}
		select {
		case <-sunk:
			return nil
		case err := <-sinkDone:
			return fmt.Errorf("the one-way reader stopped: %v", err)
		}
	}
	framedOnce := func() error {
		return client.Call(context.Background(), wire.FuncPing, body, func(reply []byte) error {
			if len(reply) != len(body) {
				return fmt.Errorf("echo returned %d bytes, want %d", len(reply), len(body))
			}
			return nil
		})
	}
	// Warm up both, then alternate rounds of ten.
	for i := 0; i < 3; i++ {
		if err := rawOnce(); err != nil {
			return LinkResult{}, err
		}
		if err := framedOnce(); err != nil {
			return LinkResult{}, err
		}
		if err := oneWayOnce(); err != nil {
			return LinkResult{}, err
		}
	}
	r := LinkResult{Size: size}
	for len(r.Framed) < n {
		for i := 0; i < 10; i++ {
			t := time.Now()
			if err := rawOnce(); err != nil {
				return r, err
			}
			r.Raw = append(r.Raw, time.Since(t))
		}
		for i := 0; i < 10; i++ {
			t := time.Now()
			if err := framedOnce(); err != nil {
				return r, err
			}
			r.Framed = append(r.Framed, time.Since(t))
		}
		for i := 0; i < 10; i++ {
			t := time.Now()
			if err := oneWayOnce(); err != nil {
				return r, err
			}
			r.OneWay = append(r.OneWay, time.Since(t))
		}
	}
	r.RawMedianNs, r.RawP99Ns = int64(r.Raw.Median()), int64(r.Raw.P99())
	r.FramedMedianNs, r.FramedP99Ns = int64(r.Framed.Median()), int64(r.Framed.P99())
	r.OneWayMedianNs = int64(r.OneWay.Median())
	r.RawMiBps, r.FramedMiBps, r.OneWayMiBps = r.Raw.MiBps(size), r.Framed.MiBps(size), r.OneWay.MiBps(size)
	r.Throughput = r.FramedMiBps / r.RawMiBps
	r.Latency = float64(r.FramedMedianNs) / float64(r.RawMedianNs)
	return r, nil
}

// ptyEcho is a raw echo of size bytes on a pty pair of its own: the guest's
// end writes the payload, a goroutine on the server's end reads all of it
// and writes it back, the guest's end reads it. It is the limit under a
// request and reply of that size on a pty, and a runner, so that P11
// times it in the same rounds as the modules.
type ptyEcho struct {
	pty          *link.PTY
	end          *link.TTY
	payload, got []byte
	stop         chan struct{}
	done         chan error
}

func newPTYEcho(path string, size int) (*ptyEcho, error) {
	p, end, err := ptyPair(path)
	if err != nil {
		return nil, err
	}
	e := &ptyEcho{pty: p, end: end, payload: make([]byte, size), got: make([]byte, size),
		stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { e.done <- rawEcho(p.Master, size, e.stop) }()
	return e, nil
}

// once is one echo.
func (e *ptyEcho) once() error {
	if _, err := e.end.Write(e.payload); err != nil {
		return err
	}
	_, err := io.ReadFull(e.end, e.got)
	return err
}

func (e *ptyEcho) label() string { return SystemPTYEcho }

// request times q.Calls echoes; q.Workload is the round's, which the
// echo does not change.
func (e *ptyEcho) request(q hostRequest) (hostReply, error) {
	var rep hostReply
	for range q.Calls {
		t := time.Now()
		if err := e.once(); err != nil {
			rep.Err = err.Error()
			break
		}
		rep.Ns = append(rep.Ns, time.Since(t).Nanoseconds())
	}
	return rep, nil
}

// close stops the echo's goroutine, which one more payload wakes, and
// closes the pair.
func (e *ptyEcho) close() {
	close(e.stop)
	e.end.Write(e.payload)
	<-e.done
	e.end.Close()
	e.pty.Close()
}

// rawEcho reads size bytes and writes them back until stop is closed (and
// one more payload arrives to wake it).
func rawEcho(f *os.File, size int, stop <-chan struct{}) error {
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(f, buf); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		default:
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
}

// rawSink reads size bytes at a time and says on got when it has each
// whole payload, until stop is closed (and one more payload arrives to
// wake it) or a read fails.
func rawSink(f *os.File, size int, stop <-chan struct{}, got chan<- struct{}) error {
	buf := make([]byte, min(size, 64<<10))
	for {
		for have := 0; have < size; {
			n, err := f.Read(buf[:min(len(buf), size-have)])
			if err != nil {
				return err
			}
			have += n
		}
		select {
		case <-stop:
			return nil
		case got <- struct{}{}:
		}
	}
}
