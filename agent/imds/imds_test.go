package imds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// fakeIMDS is a local IMDSv2: tokens with a TTL, 401 for a request without a valid token.
type fakeIMDS struct {
	now       func() time.Time
	tokens    map[string]time.Time
	puts      atomic.Int32
	tokenless atomic.Int32
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := f.puts.Add(1)
		token := "token-" + strconv.Itoa(int(n))
		f.tokens[token] = f.now().Add(time.Duration(ttl) * time.Second)
		_, _ = w.Write([]byte(token))
		return
	}
	token := r.Header.Get("X-aws-ec2-metadata-token")
	if token == "" {
		f.tokenless.Add(1)
	}
	expires, ok := f.tokens[token]
	if !ok || f.now().After(expires) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/latest/meta-data/placement/region" {
		_, _ = w.Write([]byte("eu-west-1"))
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

func setup(t *testing.T) (*Client, *fakeIMDS, *time.Time) {
	t.Helper()
	clock := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	fake := &fakeIMDS{now: now, tokens: map[string]time.Time{}}
	server := httptest.NewServer(fake)
	t.Cleanup(server.Close)
	return &Client{Endpoint: server.URL, TTL: 10 * time.Minute, Now: now}, fake, &clock
}

func TestEveryRequestCarriesAToken(t *testing.T) {
	c, fake, _ := setup(t)
	region, err := c.Get(context.Background(), "/latest/meta-data/placement/region")
	if err != nil || region != "eu-west-1" {
		t.Fatalf("got %q, %v", region, err)
	}
	if fake.tokenless.Load() != 0 {
		t.Fatalf("%d requests went without a token", fake.tokenless.Load())
	}
}

func TestTheTokenIsReusedUntilShortlyBeforeItExpires(t *testing.T) {
	c, fake, clock := setup(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := c.Get(ctx, "/latest/meta-data/placement/region"); err != nil {
			t.Fatal(err)
		}
	}
	if fake.puts.Load() != 1 {
		t.Fatalf("asked for %d tokens, want 1", fake.puts.Load())
	}
	*clock = clock.Add(9*time.Minute + 30*time.Second)
	if _, err := c.Get(ctx, "/latest/meta-data/placement/region"); err != nil {
		t.Fatal(err)
	}
	if fake.puts.Load() != 2 {
		t.Fatalf("asked for %d tokens, want a fresh one a minute before expiry", fake.puts.Load())
	}
}

func TestAStaleTokenIsRenewedOnce(t *testing.T) {
	c, fake, _ := setup(t)
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// The service forgets every token (as after a hop or restart): the client renews and repeats.
	for k := range fake.tokens {
		delete(fake.tokens, k)
	}
	if region, err := c.Get(ctx, "/latest/meta-data/placement/region"); err != nil || region != "eu-west-1" {
		t.Fatalf("got %q, %v", region, err)
	}
	if fake.puts.Load() != 2 {
		t.Fatalf("asked for %d tokens, want 2", fake.puts.Load())
	}
}

func TestARefusedTokenIsAnErrorNotAnIMDSv1Fallback(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer server.Close()
	c := &Client{Endpoint: server.URL}
	_, err := c.Get(context.Background(), "/latest/meta-data/placement/region")
	status, ok := err.(*StatusError)
	if !ok || status.Code != 403 || status.Op != "PUT /latest/api/token" {
		t.Fatalf("got %v", err)
	}
}
