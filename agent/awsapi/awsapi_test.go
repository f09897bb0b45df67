package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"i2kit/agent/imds"
	"i2kit/agent/logs"
	"i2kit/agent/retry"
	"i2kit/agent/sigv4"
)

var testCreds = Static{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", SessionToken: "session-token"}

type seen struct {
	header http.Header
	body   []byte
	path   string
}

// fakeAWS records every request and answers with the handler's status and body.
func fakeAWS(t *testing.T, answer func(n int, r *http.Request, body []byte) (int, string)) (*Client, *[]seen) {
	t.Helper()
	var mu sync.Mutex
	var requests []seen
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, seen{r.Header.Clone(), body, r.URL.Path})
		n := len(requests)
		mu.Unlock()
		status, out := answer(n, r, body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(server.Close)
	t.Setenv("AWS_ENDPOINT_URL", server.URL)
	c := New("eu-west-1", testCreds)
	c.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return c, &requests
}

func TestGetSecretValueRequestShape(t *testing.T) {
	c, requests := fakeAWS(t, func(int, *http.Request, []byte) (int, string) {
		return 200, `{"Name":"x","SecretString":"hunter2"}`
	})
	value, err := c.GetSecretValue(context.Background(), "i2kit/shop/api/db_password")
	if err != nil || string(value) != "hunter2" {
		t.Fatalf("got %q, %v", value, err)
	}
	r := (*requests)[0]
	if r.path != "/" || r.header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || r.header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Fatalf("request %s %v", r.path, r.header)
	}
	auth := r.header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260102/eu-west-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=") {
		t.Fatalf("Authorization %s", auth)
	}
	if r.header.Get("X-Amz-Security-Token") != "session-token" || r.header.Get("X-Amz-Date") != "20260102T030405Z" {
		t.Fatalf("headers %v", r.header)
	}
	var in map[string]string
	if err := json.Unmarshal(r.body, &in); err != nil || in["SecretId"] != "i2kit/shop/api/db_password" {
		t.Fatalf("body %s", r.body)
	}
}

func TestGetSecretValueDecodesSecretBinary(t *testing.T) {
	c, _ := fakeAWS(t, func(int, *http.Request, []byte) (int, string) {
		return 200, `{"SecretBinary":"AAECAw=="}`
	})
	value, err := c.GetSecretValue(context.Background(), "bin")
	if err != nil || string(value) != "\x00\x01\x02\x03" {
		t.Fatalf("got %q, %v", value, err)
	}
}

func TestLogsRequestsAndAnExistingStream(t *testing.T) {
	c, requests := fakeAWS(t, func(n int, r *http.Request, _ []byte) (int, string) {
		if r.Header.Get("X-Amz-Target") == "Logs_20140328.CreateLogStream" {
			return 400, `{"__type":"ResourceAlreadyExistsException","message":"The specified log stream already exists"}`
		}
		return 200, `{"nextSequenceToken":"1"}`
	})
	ctx := context.Background()
	if err := c.CreateLogStream(ctx, "/i2kit/shop/api", "i-1/api"); err != nil {
		t.Fatalf("an existing stream: %v", err)
	}
	t0 := time.UnixMilli(1700000000123)
	if err := c.PutLogEvents(ctx, "/i2kit/shop/api", "i-1/api", []logs.Event{{Time: t0, Message: "a"}, {Time: t0.Add(time.Millisecond), Message: "b"}}); err != nil {
		t.Fatal(err)
	}
	put := (*requests)[1]
	if !strings.Contains(put.header.Get("Authorization"), "/eu-west-1/logs/aws4_request") || put.header.Get("X-Amz-Target") != "Logs_20140328.PutLogEvents" {
		t.Fatalf("headers %v", put.header)
	}
	want := `{"logGroupName":"/i2kit/shop/api","logStreamName":"i-1/api","logEvents":[{"timestamp":1700000000123,"message":"a"},{"timestamp":1700000000124,"message":"b"}]}`
	if string(put.body) != want {
		t.Fatalf("body\n got %s\nwant %s", put.body, want)
	}
}

func TestAttachVolumeRequestShape(t *testing.T) {
	c, requests := fakeAWS(t, func(int, *http.Request, []byte) (int, string) {
		return 200, `<AttachVolumeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><volumeId>vol-1</volumeId><status>attaching</status></AttachVolumeResponse>`
	})
	if err := c.AttachVolume(context.Background(), "vol-1", "i-1", "/dev/sdf"); err != nil {
		t.Fatal(err)
	}
	r := (*requests)[0]
	form, _ := url.ParseQuery(string(r.body))
	if form.Get("Action") != "AttachVolume" || form.Get("Version") != "2016-11-15" || form.Get("VolumeId") != "vol-1" || form.Get("InstanceId") != "i-1" || form.Get("Device") != "/dev/sdf" {
		t.Fatalf("form %v", form)
	}
	if !strings.Contains(r.header.Get("Authorization"), "/eu-west-1/ec2/aws4_request") || !strings.HasPrefix(r.header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Fatalf("headers %v", r.header)
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		attach    bool
		code      string
		retryable bool
	}{
		{400, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`, false, "ResourceNotFoundException", false},
		{400, `{"__type":"com.amazonaws.secretsmanager#AccessDeniedException","Message":"no"}`, false, "AccessDeniedException", false},
		{400, `{"__type":"ThrottlingException:http://internal.amazon.com/coral/","message":"Rate exceeded"}`, false, "ThrottlingException", true},
		{500, `{"__type":"InternalServiceError","message":"oops"}`, false, "InternalServiceError", true},
		{503, `<html>Service Unavailable</html>`, false, "", true},
		{429, ``, false, "", true},
		{400, `<Response><Errors><Error><Code>VolumeInUse</Code><Message>vol-1 is already attached to an instance</Message></Error></Errors><RequestID>r</RequestID></Response>`, true, "VolumeInUse", true},
		{400, `<Response><Errors><Error><Code>IncorrectState</Code><Message>detaching</Message></Error></Errors></Response>`, true, "IncorrectState", true},
		{400, `<Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>gone</Message></Error></Errors></Response>`, true, "InvalidVolume.NotFound", false},
		{403, `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>`, true, "UnauthorizedOperation", false},
		{400, `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error></Errors></Response>`, true, "RequestLimitExceeded", true},
	}
	for _, tc := range cases {
		c, _ := fakeAWS(t, func(int, *http.Request, []byte) (int, string) { return tc.status, tc.body })
		var err error
		if tc.attach {
			err = c.AttachVolume(context.Background(), "vol-1", "i-1", "/dev/sdf")
		} else {
			_, err = c.GetSecretValue(context.Background(), "s")
		}
		var awsErr *Error
		if !errors.As(err, &awsErr) || awsErr.Code != tc.code || awsErr.Status != tc.status || Retryable(err) != tc.retryable {
			t.Errorf("%d %s: got %#v, retryable %v", tc.status, tc.body, err, Retryable(err))
		}
	}
}

func TestErrorMessageCarriesCodeAndMessage(t *testing.T) {
	c, _ := fakeAWS(t, func(int, *http.Request, []byte) (int, string) {
		return 400, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`
	})
	_, err := c.GetSecretValue(context.Background(), "s")
	if err == nil || err.Error() != "ResourceNotFoundException: Secrets Manager can't find the specified secret." {
		t.Fatalf("got %v", err)
	}
}

func TestANetworkFailureIsRetryable(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	server.Close() // nothing listens there any more
	t.Setenv("AWS_ENDPOINT_URL", server.URL)
	_, err := New("eu-west-1", testCreds).GetSecretValue(context.Background(), "s")
	if err == nil || !Retryable(err) {
		t.Fatalf("got %v, retryable %v", err, Retryable(err))
	}
	if Retryable(context.Canceled) {
		t.Fatal("a cancelled context is not worth retrying")
	}
}

func TestRetryOn5xxAndThrottlingThenSuccess(t *testing.T) {
	c, requests := fakeAWS(t, func(n int, _ *http.Request, _ []byte) (int, string) {
		switch n {
		case 1:
			return 500, `{"__type":"InternalServiceError"}`
		case 2:
			return 400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`
		}
		return 200, `{"SecretString":"ok"}`
	})
	var value []byte
	p := retry.Policy{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond}
	err := Retry(context.Background(), p, func(ctx context.Context) (err error) {
		value, err = c.GetSecretValue(ctx, "s")
		return err
	})
	if err != nil || string(value) != "ok" || len(*requests) != 3 {
		t.Fatalf("got %q, %v after %d requests", value, err, len(*requests))
	}
}

func TestRetryStopsAtAPermanentError(t *testing.T) {
	c, requests := fakeAWS(t, func(int, *http.Request, []byte) (int, string) {
		return 400, `{"__type":"ResourceNotFoundException","message":"no"}`
	})
	p := retry.Policy{Attempts: 5, Base: time.Millisecond}
	err := Retry(context.Background(), p, func(ctx context.Context) error {
		_, err := c.GetSecretValue(ctx, "s")
		return err
	})
	if ErrorCode(err) != "ResourceNotFoundException" || len(*requests) != 1 {
		t.Fatalf("got %v after %d requests", err, len(*requests))
	}
}

func TestAClockFarOffFollowsAWS(t *testing.T) {
	c, requests := fakeAWS(t, func(n int, r *http.Request, _ []byte) (int, string) {
		if n == 1 {
			return 400, `{"__type":"InvalidSignatureException","message":"Signature expired"}`
		}
		return 200, `{"SecretString":"ok"}`
	})
	// The fake server's Date header is the real time; pretend the client's clock is an hour behind it.
	c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, _ = c.GetSecretValue(context.Background(), "s")
	if _, err := c.GetSecretValue(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	date, _ := time.Parse(sigv4.TimeFormat, (*requests)[1].header.Get("X-Amz-Date"))
	if d := time.Since(date); d > time.Minute || d < -time.Minute {
		t.Fatalf("second request signed at %v, %v from AWS's clock", date, d)
	}
}

func TestEndpointResolution(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_EC2", "")
	if got := Endpoint(EC2, "eu-west-1"); got != "https://ec2.eu-west-1.amazonaws.com" {
		t.Fatal(got)
	}
	if got := Endpoint(Logs, "us-east-2"); got != "https://logs.us-east-2.amazonaws.com" {
		t.Fatal(got)
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")
	if got := Endpoint(SecretsManager, "eu-west-1"); got != "http://127.0.0.1:5000" {
		t.Fatal(got)
	}
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:6000")
	if got := Endpoint(SecretsManager, "eu-west-1"); got != "http://127.0.0.1:6000" {
		t.Fatal(got)
	}
	if got := Endpoint(Logs, "eu-west-1"); got != "http://127.0.0.1:5000" {
		t.Fatal(got)
	}
}

// fakeIMDS serves a role's credentials; each fetch hands out new keys.
func fakeIMDS(t *testing.T, expiration *time.Time) (*imds.Client, *atomic.Int32) {
	t.Helper()
	var fetches atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			_, _ = io.WriteString(w, "token")
		case r.Header.Get("X-aws-ec2-metadata-token") != "token":
			w.WriteHeader(401)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			_, _ = io.WriteString(w, "the-role\n")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/the-role":
			n := fetches.Add(1)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "AKID" + string(rune('0'+n)),
				"SecretAccessKey": "s", "Token": "t", "Expiration": expiration.Format(time.RFC3339),
			})
		case r.URL.Path == "/latest/meta-data/placement/region":
			_, _ = io.WriteString(w, "eu-west-1")
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(server.Close)
	return &imds.Client{Endpoint: server.URL}, &fetches
}

func TestIMDSCredentialsAreRefreshedBeforeTheyExpire(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expiration := clock.Add(time.Hour)
	meta, fetches := fakeIMDS(t, &expiration)
	p := &IMDSCredentials{Meta: meta, Now: func() time.Time { return clock }}
	ctx := context.Background()
	c, err := p.Credentials(ctx)
	if err != nil || c.AccessKeyID != "AKID1" || c.SessionToken != "t" {
		t.Fatalf("got %+v, %v", c, err)
	}
	clock = clock.Add(50 * time.Minute)
	if c, _ := p.Credentials(ctx); c.AccessKeyID != "AKID1" || fetches.Load() != 1 {
		t.Fatalf("fetched again too early: %+v", c)
	}
	expiration = clock.Add(time.Hour)
	clock = clock.Add(6 * time.Minute) // four minutes before the first ones expire
	if c, _ := p.Credentials(ctx); c.AccessKeyID != "AKID2" {
		t.Fatalf("not refreshed: %+v", c)
	}
	p.Expire()
	if c, _ := p.Credentials(ctx); c.AccessKeyID != "AKID3" {
		t.Fatalf("not refreshed after Expire: %+v", c)
	}
	if region, err := Region(ctx, meta); region != "eu-west-1" || err != nil {
		t.Fatalf("region %q, %v", region, err)
	}
}

func TestNoRoleIsAPermanentError(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			_, _ = io.WriteString(w, "token")
			return
		}
		w.WriteHeader(404)
	}))
	defer server.Close()
	p := &IMDSCredentials{Meta: &imds.Client{Endpoint: server.URL}}
	_, err := p.Credentials(context.Background())
	if err == nil || Retryable(err) {
		t.Fatalf("got %v, retryable %v", err, Retryable(err))
	}
}
