package logs

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func TestBatchesStayUnderTheEventCount(t *testing.T) {
	b := NewBuffer(100 << 20)
	for i := 0; i < 25_000; i++ {
		b.Push(Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Message: "x"})
	}
	sizes := []int{len(b.NextBatch()), len(b.NextBatch()), len(b.NextBatch()), len(b.NextBatch())}
	if sizes[0] != 10_000 || sizes[1] != 10_000 || sizes[2] != 5_000 || sizes[3] != 0 {
		t.Fatalf("batch sizes %v", sizes)
	}
}

func TestBatchesStayUnderTheByteLimitCountingTheOverhead(t *testing.T) {
	b := NewBuffer(100 << 20)
	line := strings.Repeat("y", 1000)
	for i := 0; i < 3000; i++ {
		b.Push(Event{Time: t0.Add(time.Duration(i) * time.Second), Message: line})
	}
	batch := b.NextBatch()
	bytes := 0
	for _, e := range batch {
		bytes += len(e.Message) + EventOverhead
	}
	if bytes > MaxBatchBytes || bytes+1026 <= MaxBatchBytes {
		t.Fatalf("a batch of %d events holds %d bytes: not as full as the limit allows", len(batch), bytes)
	}
}

func TestBatchesAreInTimeOrderAndWithin24Hours(t *testing.T) {
	b := NewBuffer(1 << 20)
	b.Push(Event{Time: t0.Add(25 * time.Hour), Message: "late"})
	b.Push(Event{Time: t0, Message: "first"})
	b.Push(Event{Time: t0.Add(time.Hour), Message: "second"})
	first := b.NextBatch()
	if len(first) != 2 || first[0].Message != "first" || first[1].Message != "second" {
		t.Fatalf("first batch %v", first)
	}
	if second := b.NextBatch(); len(second) != 1 || second[0].Message != "late" {
		t.Fatalf("second batch %v", second)
	}
}

func TestTheMemoryCeilingDropsTheOldestAndCountsThem(t *testing.T) {
	b := NewBuffer(64 * 1024)
	line := strings.Repeat("z", 998) // 1024 bytes with the overhead
	for i := 0; i < 200; i++ {
		b.Push(Event{Time: t0.Add(time.Duration(i) * time.Second), Message: line})
		if b.Bytes() > 64*1024 {
			t.Fatalf("holds %d bytes, over the ceiling", b.Bytes())
		}
	}
	if b.Len() != 64 || b.Dropped != 136 {
		t.Fatalf("holds %d, dropped %d; want 64 and 136", b.Len(), b.Dropped)
	}
	if first := b.NextBatch()[0]; !first.Time.Equal(t0.Add(136 * time.Second)) {
		t.Fatalf("oldest kept is %v, want the 137th line", first.Time)
	}
}

func TestAFailedBatchGoesBackInFrontWithinTheCeiling(t *testing.T) {
	b := NewBuffer(10 * 1024)
	for i := 0; i < 5; i++ {
		b.Push(Event{Time: t0.Add(time.Duration(i) * time.Second), Message: strings.Repeat("a", 998)})
	}
	batch := b.NextBatch()
	b.Push(Event{Time: t0.Add(10 * time.Second), Message: "newer"})
	b.Requeue(batch)
	again := b.NextBatch()
	if len(again) != 6 || !again[0].Time.Equal(t0) || again[5].Message != "newer" {
		t.Fatalf("after requeue: %d events, first at %v", len(again), again[0].Time)
	}
}

func TestAnOverlongLineIsTruncatedToWhatCloudWatchTakes(t *testing.T) {
	b := NewBuffer(1 << 20)
	b.Push(Event{Time: t0, Message: strings.Repeat("b", 300*1024)})
	if got := len(b.NextBatch()[0].Message); got != MaxEventBytes {
		t.Fatalf("message of %d bytes, want %d", got, MaxEventBytes)
	}
}

func TestTheRingKeepsOrderAcrossWrapsDropsAndRequeues(t *testing.T) {
	line := strings.Repeat("r", 74) // 100 bytes with the overhead
	b := NewBuffer(10 * 100)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	for i := 0; i < 25; i++ {
		b.Push(Event{Time: at(i), Message: line})
	}
	// 15 dropped: 15..24 held, and the ring has wrapped.
	batch := b.NextBatch()
	if len(batch) != 10 || !batch[0].Time.Equal(at(15)) || b.Len() != 0 {
		t.Fatalf("batch of %d from %v, %d left", len(batch), batch[0].Time, b.Len())
	}
	b.Push(Event{Time: at(25), Message: line})
	b.Push(Event{Time: at(26), Message: line})
	b.Requeue(batch) // 12 events over a ceiling of 10: the two oldest go
	if b.Dropped != 17 || b.Len() != 10 {
		t.Fatalf("dropped %d, holds %d", b.Dropped, b.Len())
	}
	got := b.NextBatch()
	for i, e := range got {
		if !e.Time.Equal(at(17 + i)) {
			t.Fatalf("event %d at %v, want %v", i, e.Time, at(17+i))
		}
	}
}

func TestDroppedEventsAreNotKeptAlive(t *testing.T) {
	b := NewBuffer(64 * 100)
	line := strings.Repeat("m", 74)
	for i := 0; i < 1_000_000; i++ {
		b.Push(Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Message: line})
	}
	// The ring grows to fit what is held, not what went through it; its free slots hold nothing.
	if b.Len() != 64 || len(b.ring) > 128 {
		t.Fatalf("holds %d in a ring of %d", b.Len(), len(b.ring))
	}
	live := 0
	for _, e := range b.ring {
		if e.Message != "" {
			live++
		}
	}
	if live != 64 {
		t.Fatalf("%d slots still hold a message", live)
	}
}
