// Package awsapi makes the few AWS API calls the agent needs, signed with
// SigV4: Secrets Manager GetSecretValue, CloudWatch Logs CreateLogStream and
// PutLogEvents (JSON 1.1), and EC2 AttachVolume (query API).
package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"i2kit/agent/imds"
	"i2kit/agent/retry"
	"i2kit/agent/sigv4"
)

// Service is an AWS API: its endpoint variable's suffix and its endpoint
// prefix, which is also the name requests are signed for.
type Service struct {
	EnvName string
	Prefix  string
}

var (
	SecretsManager = Service{EnvName: "SECRETS_MANAGER", Prefix: "secretsmanager"}
	Logs           = Service{EnvName: "CLOUDWATCH_LOGS", Prefix: "logs"}
	EC2            = Service{EnvName: "EC2", Prefix: "ec2"}
)

// Endpoint is where requests to s go: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL (both for tests only, as in the AWS SDKs), else the
// service's regional endpoint.
func Endpoint(s Service, region string) string {
	for _, name := range []string{"AWS_ENDPOINT_URL_" + s.EnvName, "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(name); v != "" {
			return strings.TrimRight(v, "/")
		}
	}
	return "https://" + s.Prefix + "." + region + ".amazonaws.com"
}

// NewHTTPClient bounds every stage of a request, so a dead network costs a
// retry, not a hang.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		},
	}
}

// Client calls AWS APIs in one region.
type Client struct {
	Region string
	Creds  CredentialSource
	HTTP   *http.Client
	// Now is the clock, replaceable in tests.
	Now func() time.Time

	mu   sync.Mutex
	skew time.Duration // AWS's clock minus ours, learnt from a refused request
}

// New returns a client with NewHTTPClient's timeouts.
func New(region string, creds CredentialSource) *Client {
	return &Client{Region: region, Creds: creds, HTTP: NewHTTPClient()}
}

func (c *Client) now() time.Time {
	var now time.Time
	if c.Now != nil {
		now = c.Now()
	} else {
		now = time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Add(c.skew)
}

// Error is an AWS API's refusal, or an answer that cannot be understood.
type Error struct {
	Op        string // e.g. "GetSecretValue"
	Status    int    // HTTP status
	Code      string // AWS error code, e.g. "ResourceNotFoundException"
	Message   string
	retryable bool
}

func (e *Error) Error() string {
	msg := e.Code
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Retryable tells whether the same request may succeed later.
func (e *Error) Retryable() bool { return e.retryable }

// Codes that mean "later": throttling, AWS's own failures, credentials or a
// clock that asking again (with fresh ones) fixes.
var retryableCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true, "RequestThrottledException": true,
	"TooManyRequestsException": true, "RequestLimitExceeded": true, "RequestThrottled": true, "SlowDown": true,
	"ProvisionedThroughputExceededException": true, "BandwidthLimitExceeded": true, "PriorRequestNotComplete": true,
	"EC2ThrottledException": true, "InternalError": true, "InternalFailure": true, "InternalServiceError": true,
	"InternalServerError": true, "ServiceUnavailable": true, "ServiceUnavailableException": true, "Unavailable": true,
	"RequestTimeout": true, "RequestTimeoutException": true, "ServiceUnavailableError": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true, "RequestTimeTooSkewed": true,
}

// Retryable tells whether err may go away by itself: an AWS error that says
// so, a metadata service error that says so, or a network failure. Errors
// of a cancelled context are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var awsErr *Error
	if errors.As(err, &awsErr) {
		return awsErr.retryable
	}
	var metaErr *imds.StatusError
	if errors.As(err, &metaErr) {
		return metaErr.Retryable()
	}
	// Connection refused or reset, timeouts, DNS, a truncated answer: the network's, not the request's.
	return true
}

// Retry calls fn under policy p until it succeeds, fails in a way
// Retryable says will not go away, or p runs out.
func Retry(ctx context.Context, p retry.Policy, fn func(context.Context) error) error {
	return retry.Do(ctx, p, func(ctx context.Context) error {
		err := fn(ctx)
		if err != nil && !Retryable(err) {
			return retry.Permanent{Err: err}
		}
		return err
	})
}

// ErrorCode is err's AWS error code, or "".
func ErrorCode(err error) string {
	var awsErr *Error
	if errors.As(err, &awsErr) {
		return awsErr.Code
	}
	return ""
}

// send signs and sends one POST to s's endpoint and returns the body of a
// 2xx answer; any other answer is an *Error.
func (c *Client) send(ctx context.Context, s Service, op string, header http.Header, body []byte, extraRetryable map[string]bool) ([]byte, error) {
	creds, err := c.Creds.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, Endpoint(s, c.Region)+"/", bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Op: op, Code: "InvalidEndpoint", Message: err.Error()}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	sigv4.Sign(req, body, creds, c.Region, s.Prefix, c.now())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	if resp.StatusCode/100 == 2 {
		return respBody, nil
	}
	e := parseError(op, resp, respBody)
	e.retryable = resp.StatusCode == 429 || resp.StatusCode >= 500 || retryableCodes[e.Code] || extraRetryable[e.Code]
	switch e.Code {
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
		if ex, ok := c.Creds.(expirer); ok {
			ex.Expire()
		}
	}
	c.learnSkew(resp)
	return nil, e
}

// learnSkew follows AWS's clock when ours is more than five minutes off (a
// VM's clock early in boot), since a signature that far off is refused.
func (c *Client) learnSkew(resp *http.Response) {
	server, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	local := time.Now()
	if c.Now != nil {
		local = c.Now()
	}
	if d := server.Sub(local); d > 5*time.Minute || d < -5*time.Minute {
		c.mu.Lock()
		c.skew = d
		c.mu.Unlock()
	}
}

// parseError reads the code and message of a JSON (__type, message) or an
// XML (Errors/Error/Code) error answer.
func parseError(op string, resp *http.Response, body []byte) *Error {
	e := &Error{Op: op, Status: resp.StatusCode}
	var j struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	var x struct {
		Code     string `xml:"Errors>Error>Code"`
		Message  string `xml:"Errors>Error>Message"`
		Code2    string `xml:"Error>Code"`
		Message2 string `xml:"Error>Message"`
	}
	switch {
	case json.Unmarshal(body, &j) == nil:
		e.Code, e.Message = first(j.Type, j.Code), first(j.Message, j.Message2)
	case xml.Unmarshal(body, &x) == nil:
		e.Code, e.Message = first(x.Code, x.Code2), first(x.Message, x.Message2)
	}
	if e.Code == "" {
		e.Code = resp.Header.Get("X-Amzn-ErrorType")
	}
	// "aws.protocol#Code:http://internal.amazon.com/..." -> "Code"
	if i := strings.LastIndexByte(e.Code, '#'); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if i := strings.IndexByte(e.Code, ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	if e.Code == "" && e.Message == "" && len(body) > 0 && len(body) < 200 {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
