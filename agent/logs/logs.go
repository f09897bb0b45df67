// Package logs buffers container output and cuts it into PutLogEvents
// batches that stay within CloudWatch Logs' limits.
package logs

import (
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
// bounded amount of memory and says how much it lost. The events are a ring
// kept in time order: taking a batch, dropping the oldest and putting a
// failed batch back are all O(1) per event, and a slot let go is cleared, so
// its message can be collected at once.
type Buffer struct {
	ceiling int
	ring    []Event
	head, n int
	bytes   int
	// Dropped counts the events let go to stay under the ceiling.
	Dropped int
}

// NewBuffer makes a buffer that holds at most ceiling bytes of events.
func NewBuffer(ceiling int) *Buffer { return &Buffer{ceiling: ceiling} }

func (b *Buffer) at(i int) *Event { return &b.ring[(b.head+i)%len(b.ring)] }

func (b *Buffer) grow() {
	if b.n < len(b.ring) {
		return
	}
	bigger := make([]Event, max(64, 2*len(b.ring)))
	for i := 0; i < b.n; i++ {
		bigger[i] = *b.at(i)
	}
	b.ring, b.head = bigger, 0
}

func (b *Buffer) popFront() Event {
	slot := b.at(0)
	e := *slot
	*slot = Event{}
	b.head = (b.head + 1) % len(b.ring)
	b.n--
	b.bytes -= e.size()
	return e
}

func (b *Buffer) dropOverCeiling() {
	for b.bytes > b.ceiling && b.n > 0 {
		b.popFront()
		b.Dropped++
	}
}

// Push adds an event, truncating a message longer than CloudWatch takes.
// An event older than the newest is put in its place in time order.
func (b *Buffer) Push(e Event) {
	if len(e.Message) > MaxEventBytes {
		e.Message = e.Message[:MaxEventBytes]
	}
	b.grow()
	i := b.n
	for ; i > 0 && e.Time.Before(b.at(i-1).Time); i-- {
		*b.at(i) = *b.at(i - 1)
	}
	*b.at(i) = e
	b.n++
	b.bytes += e.size()
	b.dropOverCeiling()
}

// Bytes is what the buffer holds now.
func (b *Buffer) Bytes() int { return b.bytes }

// Len is the number of events held.
func (b *Buffer) Len() int { return b.n }

// NextBatch removes and returns the oldest events that fit one PutLogEvents
// call: in time order, at most MaxBatchEvents and MaxBatchBytes, within 24 hours.
func (b *Buffer) NextBatch() []Event {
	n, bytes := 0, 0
	for n < b.n && n < MaxBatchEvents {
		e := b.at(n)
		if bytes+e.size() > MaxBatchBytes || e.Time.Sub(b.at(0).Time) >= MaxBatchTimeSpan {
			break
		}
		bytes += e.size()
		n++
	}
	batch := make([]Event, n)
	for i := range batch {
		batch[i] = b.popFront()
	}
	return batch
}

// Requeue puts a batch that could not be sent back in front, for the next
// try (it is older than anything pushed since), then keeps to the ceiling.
func (b *Buffer) Requeue(batch []Event) {
	for i := len(batch) - 1; i >= 0; i-- {
		b.grow()
		b.head = (b.head - 1 + len(b.ring)) % len(b.ring)
		*b.at(0) = batch[i]
		b.n++
		b.bytes += batch[i].size()
	}
	b.dropOverCeiling()
}
