// Package sigv4 signs AWS API requests with Signature Version 4
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html),
// in the Authorization header, for services other than S3.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Credentials sign requests; SessionToken is set for temporary (role) credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// TimeFormat is the X-Amz-Date format.
const TimeFormat = "20060102T150405Z"

// Headers never signed: they are the signature itself or may be changed on the way.
var unsigned = map[string]bool{"authorization": true, "user-agent": true, "x-amzn-trace-id": true, "expect": true}

// Sign adds X-Amz-Date, X-Amz-Security-Token (for temporary credentials)
// and Authorization to req, whose body is body. Every header already set on
// req is signed, with the host.
func Sign(req *http.Request, body []byte, creds Credentials, region, service string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format(TimeFormat)
	req.Header.Set("X-Amz-Date", amzDate)
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	} else {
		req.Header.Del("X-Amz-Security-Token")
	}
	req.Header.Del("Authorization")

	headers, signedHeaders := canonicalHeaders(req)
	payload := sha256.Sum256(body)
	canonical := strings.Join([]string{
		req.Method,
		canonicalURI(req.URL),
		canonicalQuery(req.URL),
		headers,
		signedHeaders,
		hex.EncodeToString(payload[:]),
	}, "\n")

	scope := strings.Join([]string{now.Format("20060102"), region, service, "aws4_request"}, "/")
	hashed := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", amzDate, scope, hex.EncodeToString(hashed[:])}, "\n")

	key := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), now.Format("20060102"))
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	signature := hex.EncodeToString(hmacSHA256(key, toSign))

	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		creds.AccessKeyID, scope, signedHeaders, signature))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// canonicalHeaders returns the "name:value\n" block and the ";"-joined names,
// lower-case and sorted, values trimmed with inner runs of spaces collapsed.
func canonicalHeaders(req *http.Request) (string, string) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string][]string{"host": {host}}
	for name, vs := range req.Header {
		lower := strings.ToLower(name)
		if unsigned[lower] || lower == "host" {
			continue
		}
		values[lower] = append(values[lower], vs...)
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		vs := make([]string, len(values[name]))
		for i, v := range values[name] {
			vs[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vs, ",") + "\n")
	}
	return b.String(), strings.Join(names, ";")
}

// canonicalURI encodes each segment of the path as sent, once more: every
// service but S3 signs the path URI-encoded twice.
func canonicalURI(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		return "/"
	}
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = Escape(s)
	}
	return strings.Join(segments, "/")
}

// canonicalQuery sorts the parameters by name, then value, each URI-encoded.
func canonicalQuery(u *url.URL) string {
	params, _ := url.ParseQuery(u.RawQuery)
	type pair struct{ name, value string }
	var pairs []pair
	for name, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, pair{Escape(name), Escape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].name != pairs[j].name {
			return pairs[i].name < pairs[j].name
		}
		return pairs[i].value < pairs[j].value
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.name + "=" + p.value
	}
	return strings.Join(parts, "&")
}

// Escape is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
