// Package logs buffers container output and cuts it into PutLogEvents
// batches that stay within CloudWatch Logs' limits.
package logs

import (
	"sort"
	"time"
)

// CloudWatch Logs' PutLogEvents limits.
const (
	MaxBatchEvents   = 10_000
	MaxBatchBytes    = 1_048_576
	EventOverhead    = 26 // bytes counted per event on top of its message
	MaxEventBytes    = 256*1024 - EventOverhead
	MaxBatchTimeSpan = 24 * time.Hour
)

// Event is one line of a container's output.
type Event struct {
	Time    time.Time
	Message string
}

func (e Event) size() int { return len(e.Message) + EventOverhead }

// Buffer holds events up to a memory ceiling; when a new event would pass
// it, the oldest go first and are counted, so a long network outage costs a
// bounded amount of memory and says how much it lost.
type Buffer struct {
	ceiling int
	events  []Event
	bytes   int
	// Dropped counts the events let go to stay under the ceiling.
	Dropped int
}

// NewBuffer makes a buffer that holds at most ceiling bytes of events.
func NewBuffer(ceiling int) *Buffer { return &Buffer{ceiling: ceiling} }

// Push adds an event, truncating a message longer than CloudWatch takes.
func (b *Buffer) Push(e Event) {
	if len(e.Message) > MaxEventBytes {
		e.Message = e.Message[:MaxEventBytes]
	}
	b.events = append(b.events, e)
	b.bytes += e.size()
	for b.bytes > b.ceiling && len(b.events) > 0 {
		b.bytes -= b.events[0].size()
		b.events = b.events[1:]
		b.Dropped++
	}
}

// Bytes is what the buffer holds now.
func (b *Buffer) Bytes() int { return b.bytes }

// Len is the number of events held.
func (b *Buffer) Len() int { return len(b.events) }

// NextBatch removes and returns the oldest events that fit one PutLogEvents
// call: in time order, at most MaxBatchEvents and MaxBatchBytes, within 24 hours.
func (b *Buffer) NextBatch() []Event {
	sort.SliceStable(b.events, func(i, j int) bool { return b.events[i].Time.Before(b.events[j].Time) })
	n, bytes := 0, 0
	for n < len(b.events) && n < MaxBatchEvents {
		e := b.events[n]
		if bytes+e.size() > MaxBatchBytes || e.Time.Sub(b.events[0].Time) >= MaxBatchTimeSpan {
			break
		}
		bytes += e.size()
		n++
	}
	batch := append([]Event(nil), b.events[:n]...)
	b.events = b.events[n:]
	b.bytes -= bytes
	return batch
}

// Requeue puts a batch that could not be sent back in front, for the next try.
func (b *Buffer) Requeue(batch []Event) {
	for i := len(batch) - 1; i >= 0; i-- {
		b.events = append([]Event{batch[i]}, b.events...)
		b.bytes += batch[i].size()
	}
	for b.bytes > b.ceiling && len(b.events) > 0 {
		b.bytes -= b.events[0].size()
		b.events = b.events[1:]
		b.Dropped++
	}
}
