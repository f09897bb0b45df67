package main

import (
	"bytes"
	"io"
	"os"
	"time"

	"i2kit/agent/logs"
)

// follower reads the lines appended to one file, from its start: the file
// may not exist yet, may be truncated (start again) or replaced by a new
// one (finish the old, then read the new from its start).
type follower struct {
	path    string
	f       *os.File
	offset  int64
	partial []byte    // the start of a line whose end has not been written yet
	since   time.Time // when partial last grew
}

// A line without its end is shipped as it is after this long, or once it
// is as long as CloudWatch takes.
const partialWait = 2 * time.Second

// readChunk bounds one poll's reading of a file, so a large backlog is read
// in steps, with the shipping going on in between.
const readChunk = 1 << 20

// poll reads what was appended since the last call and hands each complete line to emit.
func (fl *follower) poll(now time.Time, emit func(string)) {
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if err != nil {
			return // not there yet
		}
		fl.f, fl.offset, fl.partial = f, 0, nil
	}
	buf := make([]byte, 64<<10)
	read := 0
	for read < readChunk {
		n, err := fl.f.Read(buf)
		if n > 0 {
			read += n
			fl.offset += int64(n)
			fl.lines(buf[:n], now, emit)
		}
		if err != nil || n == 0 {
			break
		}
	}
	if read >= readChunk {
		return // more to read next time; rotation and truncation can wait
	}
	if len(fl.partial) > 0 && now.Sub(fl.since) >= partialWait {
		emit(string(fl.partial))
		fl.partial = nil
	}
	// At the end of the file: has it been truncated, or replaced?
	open, err1 := fl.f.Stat()
	named, err2 := os.Stat(fl.path)
	switch {
	case err1 != nil || err2 != nil || !os.SameFile(open, named):
		// Replaced (rotated) or removed: the old file is read to its end, the new one is opened next time.
		fl.flushPartial(emit)
		fl.f.Close()
		fl.f = nil
	case open.Size() < fl.offset:
		// Truncated in place: read it again from the start.
		fl.flushPartial(emit)
		if _, err := fl.f.Seek(0, io.SeekStart); err == nil {
			fl.offset = 0
		}
	}
}

func (fl *follower) flushPartial(emit func(string)) {
	if len(fl.partial) > 0 {
		emit(string(fl.partial))
		fl.partial = nil
	}
}

// lines splits data into lines, joined to the partial line before it.
func (fl *follower) lines(data []byte, now time.Time, emit func(string)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fl.partial = append(fl.partial, data...)
			fl.since = now
			if len(fl.partial) >= logs.MaxEventBytes {
				fl.flushPartial(emit)
			}
			return
		}
		line := data[:i]
		if len(fl.partial) > 0 {
			line = append(fl.partial, line...)
			fl.partial = nil
		}
		emit(string(bytes.TrimSuffix(line, []byte("\r"))))
		data = data[i+1:]
	}
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}
