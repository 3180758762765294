package dashboard

import (
	"strconv"
	"time"

	"tep.dev/tep/attest/store"
)

// The chart's geometry, in SVG user units.
const (
	chartW, chartH = 720, 160
	padL, padR     = 90, 20
	padT, padB     = 20, 40
	yTrusted       = padT
	yUntrusted     = chartH - padB
)

// Chart is a host's trust history as an SVG step chart: each report a
// point at the trusted or the untrusted line, along time.
type Chart struct {
	W, H               int
	X0, X1             int
	YTrusted, YUntrust int
	Points             []Point
	// Path is the step line through the points (numbers only).
	Path         string
	First, Last  time.Time
	Trusted, All int
}

// Point is one report on the chart.
type Point struct {
	X, Y    int
	Trusted bool
	Time    time.Time
	ID      string
}

// chart lays out reports (newest first, as the store lists them) from
// oldest on the left to newest on the right, spaced by their times (by
// their order when they share one time).
func chart(reports []store.Report) Chart {
	c := Chart{W: chartW, H: chartH, X0: padL, X1: chartW - padR, YTrusted: yTrusted, YUntrust: yUntrusted, All: len(reports)}
	if len(reports) == 0 {
		return c
	}
	oldest, newest := reports[len(reports)-1].Created, reports[0].Created
	c.First, c.Last = oldest, newest
	span := newest.Sub(oldest)
	width := float64(c.X1 - c.X0)
	for i := len(reports) - 1; i >= 0; i-- {
		r := reports[i]
		var f float64
		switch {
		case span > 0:
			f = float64(r.Created.Sub(oldest)) / float64(span)
		case len(reports) > 1:
			f = float64(len(reports)-1-i) / float64(len(reports)-1)
		default:
			f = 0.5
		}
		p := Point{X: c.X0 + int(f*width), Y: yUntrusted, Trusted: r.Trusted, Time: r.Created, ID: r.ID}
		if r.Trusted {
			p.Y = yTrusted
			c.Trusted++
		}
		c.Points = append(c.Points, p)
	}
	c.Path = stepPath(c.Points)
	return c
}

// stepPath is an SVG path that holds each verdict until the next report.
func stepPath(ps []Point) string {
	b := make([]byte, 0, 16*len(ps))
	for i, p := range ps {
		if i == 0 {
			b = append(b, 'M')
		} else {
			b = append(b, " H"...)
			b = strconv.AppendInt(b, int64(p.X), 10)
			b = append(b, " V"...)
			b = strconv.AppendInt(b, int64(p.Y), 10)
			continue
		}
		b = strconv.AppendInt(b, int64(p.X), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.Y), 10)
	}
	return string(b)
}
