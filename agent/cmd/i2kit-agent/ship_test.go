package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"i2kit/agent/logs"
)

// testShipper ships the containers' files in a temporary log dir to the fakes, with short intervals.
func testShipper(t *testing.T, containers ...string) (*shipper, *fakeAWS, string, *lockedBuffer) {
	t.Helper()
	aws := newFakeAWS(t)
	dir := t.TempDir()
	stderr := &lockedBuffer{}
	cfg := &Config{App: "shop", Service: "api", LogGroup: "/i2kit/shop/api", LogDir: dir, Containers: containers}
	s := newShipper(cfg, newFakeIMDS(t, ""), stderr)
	s.flushEvery, s.pollEvery, s.statusEvery = 50*time.Millisecond, 10*time.Millisecond, 100*time.Millisecond
	s.backoff, s.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	return s, aws, dir, stderr
}

// start runs the shipper until the returned function is called.
func start(s *shipper) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %06d", prefix, i))
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestShipFollowsEveryContainersFile(t *testing.T) {
	s, aws, dir, stderr := testShipper(t, "api", "worker")
	api, worker := filepath.Join(dir, "api.log"), filepath.Join(dir, "worker.log")
	appendLines(t, api, numbered("api", 0, 100)...) // before the shipper starts: read from the start
	stop := start(s)
	defer stop()
	eventually(t, 5*time.Second, "api's first lines", func() bool { return equal(aws.messages("i-test/api"), numbered("api", 0, 100)) })
	appendLines(t, api, numbered("api", 100, 150)...)
	appendLines(t, worker, numbered("worker", 0, 10)...) // a file that appears later
	eventually(t, 5*time.Second, "every line", func() bool {
		return equal(aws.messages("i-test/api"), numbered("api", 0, 150)) && equal(aws.messages("i-test/worker"), numbered("worker", 0, 10))
	})
	// Truncated in place: read again from the start.
	if err := os.Truncate(worker, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	appendLines(t, worker, "after truncation")
	// Rotated: the old file is read to its end, then the new one from its start.
	appendLines(t, api, "last of the old file")
	if err := os.Rename(api, api+".0"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, api, "first of the new file")
	want := append(numbered("api", 0, 150), "last of the old file", "first of the new file")
	eventually(t, 5*time.Second, "lines after truncation and rotation", func() bool {
		w := aws.messages("i-test/worker")
		return equal(aws.messages("i-test/api"), want) && len(w) == 11 && w[10] == "after truncation"
	})
	stop()
	aws.mu.Lock()
	defer aws.mu.Unlock()
	for _, p := range aws.puts {
		if p.stream != "/i2kit/shop/api:i-test/api" && p.stream != "/i2kit/shop/api:i-test/worker" {
			t.Fatalf("stream %s", p.stream)
		}
		for i := 1; i < len(p.events); i++ {
			if p.events[i].Timestamp < p.events[i-1].Timestamp {
				t.Fatal("a batch out of time order")
			}
		}
	}
	if !strings.Contains(stderr.String(), "i2kit-agent: shipping 2 container(s) to log group /i2kit/shop/api, streams i-test/<container>") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

func TestShipSendsStdoutAndStderrToTheContainersStream(t *testing.T) {
	s, aws, dir, _ := testShipper(t, "api")
	appendLines(t, filepath.Join(dir, "api.out.log"), "to stdout")
	appendLines(t, filepath.Join(dir, "api.log"), "to stderr")
	stop := start(s)
	defer stop()
	eventually(t, 5*time.Second, "both lines", func() bool { return len(aws.messages("i-test/api")) == 2 })
	got := aws.messages("i-test/api")
	if !(equal(got, []string{"to stdout", "to stderr"}) || equal(got, []string{"to stderr", "to stdout"})) {
		t.Fatalf("got %q", got)
	}
}

func TestShipStopLetsTheBatchInFlightFinish(t *testing.T) {
	s, aws, dir, _ := testShipper(t, "api")
	aws.putDelay = 300 * time.Millisecond
	lines := numbered("line", 0, 100)
	appendLines(t, filepath.Join(dir, "api.log"), lines...)
	stop := start(s)
	eventually(t, 5*time.Second, "a batch on its way", func() bool { return aws.putsArrived.Load() >= 1 })
	stop() // while the batch is in flight: cancelling it would lose its answer and send it twice
	if got := aws.messages("i-test/api"); !equal(got, lines) {
		t.Fatalf("got %d lines, want each of %d once", len(got), len(lines))
	}
}

func TestShipBatchesWithinCloudWatchLimits(t *testing.T) {
	s, aws, dir, stderr := testShipper(t, "api")
	s.flushEvery = time.Hour // only full batches go before the end
	lines := numbered(strings.Repeat("x", 90), 0, 25_000)
	appendLines(t, filepath.Join(dir, "api.log"), lines...)
	stop := start(s)
	eventually(t, 10*time.Second, "every line", func() bool { return len(aws.messages("i-test/api")) >= 20_000 })
	stop() // the rest goes on the way out
	if got := aws.messages("i-test/api"); !equal(got, lines) {
		t.Fatalf("got %d lines, want %d in order; stderr %s", len(got), len(lines), stderr.String())
	}
	aws.mu.Lock()
	defer aws.mu.Unlock()
	for _, p := range aws.puts {
		bytes := 0
		for _, e := range p.events {
			bytes += len(e.Message) + logs.EventOverhead
		}
		if len(p.events) > logs.MaxBatchEvents || bytes > logs.MaxBatchBytes {
			t.Fatalf("a batch of %d events, %d bytes", len(p.events), bytes)
		}
	}
	if len(aws.puts) < 3 {
		t.Fatalf("%d batches for 25,000 lines of 100 bytes", len(aws.puts))
	}
}

func TestShipSurvivesAPeriodOfServerErrors(t *testing.T) {
	s, aws, dir, stderr := testShipper(t, "api")
	path := filepath.Join(dir, "api.log")
	stopFailing := aws.failPuts(500)
	stop := start(s)
	defer stop()
	appendLines(t, path, numbered("line", 0, 100)...)
	eventually(t, 5*time.Second, "a few failed attempts", func() bool {
		return strings.Count(stderr.String(), "(retrying with backoff)") == 1 && aws.calls() > 4
	})
	appendLines(t, path, numbered("line", 100, 200)...)
	time.Sleep(100 * time.Millisecond)
	stopFailing()
	eventually(t, 5*time.Second, "every line", func() bool { return equal(aws.messages("i-test/api"), numbered("line", 0, 200)) })
	eventually(t, time.Second, "the recovery said", func() bool { return strings.Contains(stderr.String(), "i2kit-agent: ship: i-test/api: shipping again") })
	if !strings.Contains(stderr.String(), "i2kit-agent: ship: i-test/api: PutLogEvents: InternalFailure: the fake is failing (retrying with backoff)") {
		t.Fatalf("stderr %q", stderr.String())
	}
	eventually(t, time.Second, "a status line", func() bool {
		return strings.Contains(stderr.String(), "i2kit-agent: ship: api 200 shipped, 0 buffered (0 bytes), 0 dropped")
	})
}

func TestShipCountsWhatTheMemoryCeilingDrops(t *testing.T) {
	s, aws, dir, _ := testShipper(t, "api")
	s.maxBytes = 50 * (11 + logs.EventOverhead) // room for 50 of the lines below
	stopFailing := aws.failPuts(503)
	stop := start(s)
	defer stop()
	lines := numbered("lost", 0, 1000) // 11 bytes each
	appendLines(t, filepath.Join(dir, "api.log"), lines...)
	time.Sleep(300 * time.Millisecond)
	stopFailing()
	eventually(t, 5*time.Second, "the last line", func() bool {
		got := aws.messages("i-test/api")
		return len(got) > 0 && got[len(got)-1] == lines[len(lines)-1]
	})
	got := aws.messages("i-test/api")
	// Every line is either shipped or counted; the count comes first, then the newest lines in order.
	var dropped int
	if _, err := fmt.Sscanf(got[0], "i2kit-agent: dropped %d log lines (buffer ceiling reached)", &dropped); err != nil || got[0] != droppedMessage(dropped) {
		t.Fatalf("first line %q", got[0])
	}
	shipped := got[1:]
	if dropped+len(shipped) != len(lines) || len(shipped) > 50 || !equal(shipped, lines[dropped:]) {
		t.Fatalf("dropped %d, shipped %d: %v", dropped, len(shipped), shipped)
	}
}

func TestShipRecreatesADeletedStream(t *testing.T) {
	s, aws, dir, _ := testShipper(t, "api")
	path := filepath.Join(dir, "api.log")
	stop := start(s)
	defer stop()
	appendLines(t, path, "one")
	eventually(t, 5*time.Second, "the first line", func() bool { return len(aws.messages("i-test/api")) == 1 })
	aws.mu.Lock()
	delete(aws.created, "i-test/api")
	aws.mu.Unlock()
	appendLines(t, path, "two")
	eventually(t, 5*time.Second, "the second line", func() bool { return equal(aws.messages("i-test/api"), []string{"one", "two"}) })
}

func TestFollowerLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	fl := follower{path: path}
	var got []string
	emit := func(l string) { got = append(got, l) }
	now := time.Now()
	fl.poll(now, emit) // no file yet
	if err := os.WriteFile(path, []byte("a\r\nb\n\npart"), 0o644); err != nil {
		t.Fatal(err)
	}
	fl.poll(now, emit)
	if !equal(got, []string{"a", "b", ""}) {
		t.Fatalf("got %q", got)
	}
	appendLines(t, path, "ial")
	fl.poll(now, emit)
	if !equal(got, []string{"a", "b", "", "partial"}) {
		t.Fatalf("got %q", got)
	}
	// A line whose end never comes is shipped after a while.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("no end")
	f.Close()
	fl.poll(now, emit)
	fl.poll(now.Add(partialWait), emit)
	if got[len(got)-1] != "no end" {
		t.Fatalf("got %q", got)
	}
	fl.close()
}
