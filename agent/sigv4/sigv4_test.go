package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var (
	example = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	when    = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
)

func request(t *testing.T, method, url, body string, headers map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

// The AWS SigV4 test suite's "get-vanilla" case.
func TestGetVanilla(t *testing.T) {
	req := request(t, "GET", "https://example.amazonaws.com/", "", nil)
	Sign(req, nil, example, "us-east-1", "service", when)
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
		t.Fatalf("X-Amz-Date %s", got)
	}
	if req.Header.Get("X-Amz-Security-Token") != "" {
		t.Fatal("a security token without a session token")
	}
}

// The expected signatures below were computed once with the AWS SDK's own
// signer (@smithy/signature-v4 from node_modules, node's crypto for SHA-256),
// for the same requests, credentials and time; they are not from the AWS test suite.
func TestPostJSONWithSessionToken(t *testing.T) {
	body := `{"SecretId":"i2kit/shop/api/db_password"}`
	req := request(t, "POST", "https://secretsmanager.eu-west-1.amazonaws.com/", body, map[string]string{
		"Content-Type": "application/x-amz-json-1.1",
		"X-Amz-Target": "secretsmanager.GetSecretValue",
	})
	creds := example
	creds.SessionToken = "SESSIONTOKEN/EXAMPLE+="
	Sign(req, []byte(body), creds, "eu-west-1", "secretsmanager", when)
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=e7527a3c56a0eab7f7d6b1c7a95425d9106f4d15604cdac2c4774257ccab4c37"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("X-Amz-Security-Token"); got != creds.SessionToken {
		t.Fatalf("X-Amz-Security-Token %q", got)
	}
}

func TestPathAndQueryEncoding(t *testing.T) {
	body := "Action=AttachVolume&Version=2016-11-15"
	req := request(t, "POST", "https://example.amazonaws.com/a%20b/c%2Fd/~x?b=2%203&a=z&a=y&k%2A=v%2F", body, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
	})
	Sign(req, []byte(body), example, "us-east-1", "service", when)
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=29e12c9680b7fc1a2282edc5ef39609fbecf9bbc5cd49f6764c375d0fc6df6f1"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
}

func TestQueryParametersSortByNameThenValue(t *testing.T) {
	req := request(t, "GET", "https://example.amazonaws.com/?a-b=1&a=2&a=1&c=%20", "", nil)
	if got, want := canonicalQuery(req.URL), "a=1&a=2&a-b=1&c=%20"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHeaderValuesAreTrimmedAndSpacesCollapsed(t *testing.T) {
	req := request(t, "GET", "https://example.amazonaws.com/", "", map[string]string{"My-Header1": "  a   b   c  "})
	headers, signed := canonicalHeaders(req)
	if headers != "host:example.amazonaws.com\nmy-header1:a b c\n" || signed != "host;my-header1" {
		t.Fatalf("got %q %q", headers, signed)
	}
}
