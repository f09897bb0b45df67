// Package imds is an EC2 instance metadata client that speaks IMDSv2 only:
// every request carries a session token obtained with PUT /latest/api/token,
// and there is no fallback to tokenless (IMDSv1) requests.
package imds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultEndpoint is the link-local metadata address; the AWS SDKs'
// AWS_EC2_METADATA_SERVICE_ENDPOINT variable overrides it (tests only).
const DefaultEndpoint = "http://169.254.169.254"

// Client fetches instance metadata with a cached IMDSv2 session token.
type Client struct {
	Endpoint string
	// TTL of the session tokens it asks for (default 6 hours, the maximum).
	TTL  time.Duration
	HTTP *http.Client
	// Now is the clock, replaceable in tests.
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// New returns a client for the standard endpoint, or the one the environment names.
func New() *Client {
	endpoint := os.Getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &Client{Endpoint: strings.TrimRight(endpoint, "/")}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 5 * time.Second}
}

func (c *Client) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return 6 * time.Hour
}

// ErrUnauthorized is returned when the service refuses a fresh token too.
var ErrUnauthorized = errors.New("imds: 401 unauthorized")

// Token returns a valid session token, asking for a new one shortly before the old one expires.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Renew a minute early, so a token never expires in flight.
	if c.token != "" && c.now().Add(time.Minute).Before(c.expires) {
		return c.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.Endpoint+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	seconds := int(c.ttl() / time.Second)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(seconds))
	resp, err := c.http().Do(req)
	if err != nil {
		return "", fmt.Errorf("imds: PUT /latest/api/token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", &StatusError{Op: "PUT /latest/api/token", Code: resp.StatusCode}
	}
	c.token = strings.TrimSpace(string(body))
	c.expires = c.now().Add(time.Duration(seconds) * time.Second)
	return c.token, nil
}

// StatusError is an answer other than 200.
type StatusError struct {
	Op   string
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("imds: %s: HTTP %d", e.Op, e.Code) }

// Retryable tells whether asking again may help: throttling and server errors.
func (e *StatusError) Retryable() bool { return e.Code == 429 || e.Code >= 500 }

// Get returns the metadata at path (e.g. "/latest/meta-data/placement/region").
// A 401 means the token went stale: it is renewed once and the request repeated.
func (c *Client) Get(ctx context.Context, path string) (string, error) {
	for attempt := 0; attempt < 2; attempt++ {
		token, err := c.Token(ctx)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint+path, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("X-aws-ec2-metadata-token", token)
		resp, err := c.http().Do(req)
		if err != nil {
			return "", fmt.Errorf("imds: GET %s: %w", path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return string(body), nil
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			continue
		case resp.StatusCode == http.StatusUnauthorized:
			return "", ErrUnauthorized
		default:
			return "", &StatusError{Op: "GET " + path, Code: resp.StatusCode}
		}
	}
	return "", ErrUnauthorized
}
