package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"i2kit/agent/imds"
	"i2kit/agent/sigv4"
)

// CredentialSource hands out the credentials requests are signed with.
type CredentialSource interface {
	Credentials(ctx context.Context) (sigv4.Credentials, error)
}

// expirer is a source that can be told its credentials were refused as expired.
type expirer interface{ Expire() }

// Static credentials, for tests.
type Static sigv4.Credentials

func (s Static) Credentials(context.Context) (sigv4.Credentials, error) {
	return sigv4.Credentials(s), nil
}

// IMDSCredentials are the instance role's, from the metadata service,
// fetched again a few minutes before they expire (the service has the next
// ones ready by then).
type IMDSCredentials struct {
	Meta *imds.Client
	Now  func() time.Time

	mu        sync.Mutex
	role      string
	creds     sigv4.Credentials
	refreshAt time.Time
}

const credentialsPath = "/latest/meta-data/iam/security-credentials/"

func (p *IMDSCredentials) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Credentials returns the cached credentials, or fresh ones when they are due.
func (p *IMDSCredentials) Credentials(ctx context.Context) (sigv4.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.creds.AccessKeyID != "" && now.Before(p.refreshAt) {
		return p.creds, nil
	}
	if p.role == "" {
		list, err := p.Meta.Get(ctx, credentialsPath)
		if err != nil {
			return sigv4.Credentials{}, fmt.Errorf("instance role: %w", err)
		}
		role, _, _ := strings.Cut(strings.TrimSpace(list), "\n")
		if role == "" {
			return sigv4.Credentials{}, fmt.Errorf("instance role: the instance has no role")
		}
		p.role = strings.TrimSpace(role)
	}
	doc, err := p.Meta.Get(ctx, credentialsPath+p.role)
	if err != nil {
		return sigv4.Credentials{}, fmt.Errorf("credentials of role %s: %w", p.role, err)
	}
	var c struct {
		Code            string
		AccessKeyId     string
		SecretAccessKey string
		Token           string
		Expiration      time.Time
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return sigv4.Credentials{}, fmt.Errorf("credentials of role %s: %w", p.role, err)
	}
	if (c.Code != "" && c.Code != "Success") || c.AccessKeyId == "" || c.SecretAccessKey == "" {
		return sigv4.Credentials{}, fmt.Errorf("credentials of role %s: not available (code %q)", p.role, c.Code)
	}
	p.creds = sigv4.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.Token}
	// Five minutes early; if they are that close to expiry already, ask again in a minute.
	p.refreshAt = c.Expiration.Add(-5 * time.Minute)
	if c.Expiration.IsZero() {
		p.refreshAt = now.Add(time.Hour)
	} else if !p.refreshAt.After(now) {
		p.refreshAt = now.Add(time.Minute)
		if c.Expiration.After(now) && c.Expiration.Before(p.refreshAt) {
			p.refreshAt = c.Expiration
		}
	}
	return p.creds, nil
}

// Expire forgets the cached credentials, after AWS refused them as expired.
func (p *IMDSCredentials) Expire() {
	p.mu.Lock()
	p.creds = sigv4.Credentials{}
	p.mu.Unlock()
}

// Region is the instance's region, from the metadata service.
func Region(ctx context.Context, meta *imds.Client) (string, error) {
	region, err := meta.Get(ctx, "/latest/meta-data/placement/region")
	region = strings.TrimSpace(region)
	if err == nil && region == "" {
		err = fmt.Errorf("imds: empty region")
	}
	return region, err
}

// InstanceID is the instance's id, from the metadata service.
func InstanceID(ctx context.Context, meta *imds.Client) (string, error) {
	id, err := meta.Get(ctx, "/latest/meta-data/instance-id")
	id = strings.TrimSpace(id)
	if err == nil && id == "" {
		err = fmt.Errorf("imds: empty instance id")
	}
	return id, err
}
