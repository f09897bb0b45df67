package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"i2kit/agent/awsapi"
	"i2kit/agent/imds"
	"i2kit/agent/logs"
)

// shipper is "i2kit-agent ship": followers fill one buffer per container,
// the sender empties them into that container's stream.
type shipper struct {
	cfg    *Config
	meta   *imds.Client
	stderr io.Writer

	maxBytes    int           // memory ceiling of all buffers together
	flushEvery  time.Duration // longest a line waits
	pollEvery   time.Duration // how often files are read
	statusEvery time.Duration // how often a status line is printed
	backoff     time.Duration // first wait after a failure
	maxBackoff  time.Duration
	now         func() time.Time

	mu      sync.Mutex // guards the streams' buffers and counters
	streams []*stream
	wake    chan struct{} // a buffer holds a full batch

	lastStatus string
}

type stream struct {
	container string
	name      string     // <instance-id>/<container>, once known
	follows   []follower // the container's stdout and stderr files
	buf       *logs.Buffer
	last      time.Time // time of the newest event: times never go back within a stream
	dropped   int       // dropped lines not yet reported in the stream
	created   bool
	shipped   int
	failing   error // the last failure, until a success
}

func newShipper(cfg *Config, meta *imds.Client, stderr io.Writer) *shipper {
	return &shipper{
		cfg: cfg, meta: meta, stderr: stderr,
		maxBytes: defaultMaxBufferBytes, flushEvery: 5 * time.Second, pollEvery: 250 * time.Millisecond,
		statusEvery: time.Minute, backoff: time.Second, maxBackoff: time.Minute,
		now: time.Now,
	}
}

// defaultMaxBufferBytes is the buffer's memory ceiling: about 33,000 lines
// of 100 bytes, a minute or more of a busy service's output, in a VM of a
// few tens of MB. Docker's own non-blocking log mode buffers 1 MB.
const defaultMaxBufferBytes = 4 << 20

// logFiles follows where LinuxKit's init writes a service's output when
// there is no memlogd (pkg/init cmd/service, fileLog): stdout to
// <dir>/<name>.out.log and stderr to <dir>/<name>.log. Both go to the
// container's one stream, as in ECS's awslogs driver.
func logFiles(dir, container string) []follower {
	return []follower{{path: filepath.Join(dir, container+".out.log")}, {path: filepath.Join(dir, container+".log")}}
}

// requestTimeout bounds one CloudWatch request. A request is never cancelled
// by the shipper's own stop: one whose answer is lost would be sent again,
// and its lines would appear twice.
const requestTimeout = 30 * time.Second

// requestContext keeps ctx's deadline (the last flush on the way out has
// one) but not its cancellation, and adds requestTimeout.
func requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// droppedMessage is the line that says how many lines were let go.
func droppedMessage(n int) string {
	return fmt.Sprintf("i2kit-agent: dropped %d log lines (buffer ceiling reached)", n)
}

// run ships until ctx ends, then makes one last attempt to send what is buffered.
func (s *shipper) run(ctx context.Context) {
	s.wake = make(chan struct{}, 1)
	per := s.maxBytes / max(1, len(s.cfg.Containers))
	for _, c := range s.cfg.Containers {
		s.streams = append(s.streams, &stream{container: c, follows: logFiles(s.cfg.LogDir, c), buf: logs.NewBuffer(per)})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.followAll(ctx) }()
	defer wg.Wait()

	client, instanceID := s.identity(ctx)
	if client == nil {
		return
	}
	for _, st := range s.streams {
		st.name = instanceID + "/" + st.container
	}
	fmt.Fprintf(s.stderr, "i2kit-agent: shipping %d container(s) to log group %s, streams %s/<container>\n", len(s.streams), s.cfg.LogGroup, instanceID)

	flush := time.NewTicker(s.flushEvery)
	defer flush.Stop()
	status := time.NewTicker(s.statusEvery)
	defer status.Stop()
	wait := s.backoff
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.flushAll(final, client)
			cancel()
			s.status()
			return
		case <-status.C:
			s.status()
			continue
		case <-flush.C:
		case <-s.wake:
		}
		if s.now().Before(retryAt) {
			continue
		}
		if s.flushAll(ctx, client) {
			wait, retryAt = s.backoff, time.Time{}
		} else {
			// Full jitter between half and all of the backoff, doubled each time up to the maximum.
			retryAt = s.now().Add(wait/2 + time.Duration(rand.Int63n(int64(wait/2)+1)))
			wait = min(2*wait, s.maxBackoff)
		}
	}
}

// identity waits for the region, the instance id and a client, retrying
// for as long as it takes: lines are buffered meanwhile.
func (s *shipper) identity(ctx context.Context) (*awsapi.Client, string) {
	wait := s.backoff
	for {
		region, err := awsapi.Region(ctx, s.meta)
		var id string
		if err == nil {
			id, err = awsapi.InstanceID(ctx, s.meta)
		}
		if err == nil {
			return awsapi.New(region, &awsapi.IMDSCredentials{Meta: s.meta}), id
		}
		fmt.Fprintf(s.stderr, "i2kit-agent: ship: instance metadata: %v (retrying)\n", err)
		select {
		case <-ctx.Done():
			return nil, ""
		case <-time.After(wait):
		}
		wait = min(2*wait, s.maxBackoff)
	}
}

// followAll reads every container's file each pollEvery.
func (s *shipper) followAll(ctx context.Context) {
	tick := time.NewTicker(s.pollEvery)
	defer tick.Stop()
	for {
		for _, st := range s.streams {
			s.pollStream(st)
		}
		select {
		case <-ctx.Done():
			for _, st := range s.streams {
				for i := range st.follows {
					st.follows[i].close()
				}
			}
			return
		case <-tick.C:
		}
	}
}

func (s *shipper) pollStream(st *stream) {
	now := s.now()
	var lines []string
	for i := range st.follows {
		st.follows[i].poll(now, func(line string) {
			// CloudWatch refuses an empty message.
			if line != "" {
				lines = append(lines, line)
			}
		})
	}
	if len(lines) == 0 {
		return
	}
	s.mu.Lock()
	// The clock may be stepped back (NTP at boot): times never go back, so the order stays.
	if now.Before(st.last) {
		now = st.last
	}
	st.last = now
	for _, line := range lines {
		st.buf.Push(logs.Event{Time: now, Message: line})
	}
	full := st.buf.Len() >= logs.MaxBatchEvents || st.buf.Bytes() >= logs.MaxBatchBytes
	s.mu.Unlock()
	if full {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// flushAll sends every buffer's lines; false when a request failed.
func (s *shipper) flushAll(ctx context.Context, client *awsapi.Client) bool {
	ok := true
	for _, st := range s.streams {
		err := s.flushStream(ctx, client, st)
		s.mu.Lock()
		wasFailing := st.failing
		st.failing = err
		s.mu.Unlock()
		switch {
		case err != nil && wasFailing == nil:
			fmt.Fprintf(s.stderr, "i2kit-agent: ship: %s: %v (retrying with backoff)\n", st.name, err)
		case err == nil && wasFailing != nil:
			fmt.Fprintf(s.stderr, "i2kit-agent: ship: %s: shipping again\n", st.name)
		}
		if err != nil {
			ok = false
		}
	}
	return ok
}

// flushStream sends a stream's buffered lines, batch by batch, until none
// is left or one fails; a failed batch goes back into the buffer.
func (s *shipper) flushStream(ctx context.Context, client *awsapi.Client, st *stream) error {
	for ctx.Err() == nil {
		s.mu.Lock()
		st.dropped += st.buf.Dropped
		st.buf.Dropped = 0
		dropped := st.dropped
		batch := st.buf.NextBatch()
		s.mu.Unlock()
		if len(batch) == 0 && dropped == 0 {
			return nil
		}
		err := s.put(ctx, client, st, dropped, batch)
		s.mu.Lock()
		if err != nil {
			st.buf.Requeue(batch)
		} else {
			st.shipped += len(batch)
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// put creates the stream if need be, reports dropped lines (just before
// the oldest surviving one) and sends the batch.
func (s *shipper) put(ctx context.Context, client *awsapi.Client, st *stream, dropped int, batch []logs.Event) error {
	ctx, cancel := requestContext(ctx)
	defer cancel()
	if !st.created {
		if err := client.CreateLogStream(ctx, s.cfg.LogGroup, st.name); err != nil {
			return fmt.Errorf("CreateLogStream: %w", err)
		}
		st.created = true
	}
	if dropped > 0 {
		at := s.now()
		if len(batch) > 0 {
			at = batch[0].Time
		}
		if err := client.PutLogEvents(ctx, s.cfg.LogGroup, st.name, []logs.Event{{Time: at, Message: droppedMessage(dropped)}}); err != nil {
			return s.putFailed(st, err)
		}
		s.mu.Lock()
		st.dropped -= dropped // reported, whatever becomes of the batch
		s.mu.Unlock()
	}
	if len(batch) == 0 {
		return nil
	}
	if err := client.PutLogEvents(ctx, s.cfg.LogGroup, st.name, batch); err != nil {
		return s.putFailed(st, err)
	}
	return nil
}

func (s *shipper) putFailed(st *stream, err error) error {
	if awsapi.ErrorCode(err) == "ResourceNotFoundException" {
		st.created = false // the stream was deleted: create it again next time
	}
	return fmt.Errorf("PutLogEvents: %w", err)
}

// status prints one line on the shipping so far, when it changed since the last one.
func (s *shipper) status() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, st := range s.streams {
		part := fmt.Sprintf("%s %d shipped, %d buffered (%d bytes), %d dropped", st.container, st.shipped, st.buf.Len(), st.buf.Bytes(), st.dropped+st.buf.Dropped)
		if st.failing != nil {
			part += ", failing: " + st.failing.Error()
		}
		parts = append(parts, part)
	}
	line := "i2kit-agent: ship: " + strings.Join(parts, "; ")
	if line != s.lastStatus {
		fmt.Fprintln(s.stderr, line)
		s.lastStatus = line
	}
}
