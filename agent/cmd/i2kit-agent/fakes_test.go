package main

import (
	"encoding/json"
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
)

// newFakeIMDS is a local IMDSv2 for instance i-test in eu-west-1 with role
// "agent-role"; userData "" answers 404 like an instance without any.
func newFakeIMDS(t *testing.T, userData string) *imds.Client {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			_, _ = io.WriteString(w, "tok")
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/placement/region":
			_, _ = io.WriteString(w, "eu-west-1")
		case "/latest/meta-data/instance-id":
			_, _ = io.WriteString(w, "i-test")
		case "/latest/meta-data/iam/security-credentials/":
			_, _ = io.WriteString(w, "agent-role")
		case "/latest/meta-data/iam/security-credentials/agent-role":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "AccessKeyId": "ASIATEST", "SecretAccessKey": "secret", "Token": "session",
				"Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
			})
		case "/latest/user-data":
			if userData == "" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			_, _ = io.WriteString(w, userData)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(server.Close)
	return &imds.Client{Endpoint: server.URL}
}

type putCall struct {
	stream string
	events []struct {
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
}

// fakeAWS answers Secrets Manager, CloudWatch Logs and EC2 calls from memory.
type fakeAWS struct {
	mu sync.Mutex
	// fail, when it returns a status, answers that instead of serving the call.
	fail func(target string) int
	// putDelay holds each PutLogEvents answer back this long (set before the first call).
	putDelay     time.Duration
	putsArrived  atomic.Int32      // PutLogEvents calls received, counted before the delay
	secrets      map[string]string // SecretString by id
	attachErrors []string          // codes answered to the first AttachVolume calls
	attaches     []url.Values
	created      map[string]bool
	puts         []putCall
	auth         []string
}

func newFakeAWS(t *testing.T) *fakeAWS {
	t.Helper()
	f := &fakeAWS{secrets: map[string]string{}, created: map[string]bool{}}
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	t.Setenv("AWS_ENDPOINT_URL", server.URL)
	return f
}

func jsonError(w http.ResponseWriter, status int, code, message string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	target := r.Header.Get("X-Amz-Target")
	if target == "Logs_20140328.PutLogEvents" && f.putDelay > 0 {
		f.putsArrived.Add(1)
		time.Sleep(f.putDelay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if f.fail != nil {
		if status := f.fail(target); status != 0 {
			jsonError(w, status, "InternalFailure", "the fake is failing")
			return
		}
	}
	switch target {
	case "secretsmanager.GetSecretValue":
		var in struct{ SecretId string }
		_ = json.Unmarshal(body, &in)
		value, ok := f.secrets[in.SecretId]
		if !ok {
			jsonError(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"Name": in.SecretId, "SecretString": value})
	case "Logs_20140328.CreateLogStream":
		var in struct{ LogGroupName, LogStreamName string }
		_ = json.Unmarshal(body, &in)
		if f.created[in.LogStreamName] {
			jsonError(w, 400, "ResourceAlreadyExistsException", "The specified log stream already exists")
			return
		}
		f.created[in.LogStreamName] = true
		_, _ = io.WriteString(w, "{}")
	case "Logs_20140328.PutLogEvents":
		var in struct {
			LogGroupName  string `json:"logGroupName"`
			LogStreamName string `json:"logStreamName"`
			LogEvents     []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"logEvents"`
		}
		_ = json.Unmarshal(body, &in)
		if !f.created[in.LogStreamName] {
			jsonError(w, 400, "ResourceNotFoundException", "The specified log stream does not exist.")
			return
		}
		f.puts = append(f.puts, putCall{stream: in.LogGroupName + ":" + in.LogStreamName, events: in.LogEvents})
		_, _ = io.WriteString(w, `{"nextSequenceToken":"1"}`)
	case "":
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") != "AttachVolume" {
			w.WriteHeader(400)
			return
		}
		f.attaches = append(f.attaches, form)
		if len(f.attaches) <= len(f.attachErrors) {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>`+f.attachErrors[len(f.attaches)-1]+`</Code><Message>not now</Message></Error></Errors><RequestID>1</RequestID></Response>`)
			return
		}
		_, _ = io.WriteString(w, `<AttachVolumeResponse><volumeId>`+form.Get("VolumeId")+`</volumeId><status>attaching</status></AttachVolumeResponse>`)
	default:
		jsonError(w, 400, "UnknownOperationException", target)
	}
}

// failPuts answers every PutLogEvents with status until the returned function is called.
func (f *fakeAWS) failPuts(status int) (stopFailing func()) {
	failing := true // read by fail under f.mu
	f.fail = func(target string) int {
		if failing && target == "Logs_20140328.PutLogEvents" {
			return status
		}
		return 0
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		failing = false
	}
}

// calls counts the requests so far.
func (f *fakeAWS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.auth)
}

// messages returns every message PutLogEvents received for stream, in order.
func (f *fakeAWS) messages(stream string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.puts {
		if strings.HasSuffix(p.stream, ":"+stream) {
			for _, e := range p.events {
				out = append(out, e.Message)
			}
		}
	}
	return out
}

// lockedBuffer is a stderr that tests may read while the program writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually fails the test unless cond becomes true within d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
