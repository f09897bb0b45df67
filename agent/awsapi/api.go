package awsapi

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"i2kit/agent/logs"
)

// callJSON makes a JSON 1.1 call (Secrets Manager, CloudWatch Logs).
func (c *Client) callJSON(ctx context.Context, s Service, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	op := target[strings.LastIndexByte(target, '.')+1:]
	header := http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {target},
	}
	resp, err := c.send(ctx, s, op, header, body, nil)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp, out); err != nil {
		return fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	return nil
}

// GetSecretValue returns a secret's current value: SecretString, or SecretBinary decoded.
func (c *Client) GetSecretValue(ctx context.Context, secretID string) ([]byte, error) {
	var out struct {
		SecretString *string
		SecretBinary []byte // base64 in JSON; decoded by encoding/json
	}
	if err := c.callJSON(ctx, SecretsManager, "secretsmanager.GetSecretValue", map[string]string{"SecretId": secretID}, &out); err != nil {
		return nil, err
	}
	if out.SecretString != nil {
		return []byte(*out.SecretString), nil
	}
	return out.SecretBinary, nil
}

// CreateLogStream creates a stream; one that exists already is fine.
func (c *Client) CreateLogStream(ctx context.Context, group, stream string) error {
	err := c.callJSON(ctx, Logs, "Logs_20140328.CreateLogStream", map[string]string{"logGroupName": group, "logStreamName": stream}, nil)
	if ErrorCode(err) == "ResourceAlreadyExistsException" {
		return nil
	}
	return err
}

// PutLogEvents sends one batch, which must be within CloudWatch's limits
// and in time order (logs.Buffer.NextBatch cuts such batches).
func (c *Client) PutLogEvents(ctx context.Context, group, stream string, events []logs.Event) error {
	type event struct {
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	in := struct {
		LogGroupName  string  `json:"logGroupName"`
		LogStreamName string  `json:"logStreamName"`
		LogEvents     []event `json:"logEvents"`
	}{LogGroupName: group, LogStreamName: stream, LogEvents: make([]event, len(events))}
	for i, e := range events {
		in.LogEvents[i] = event{Timestamp: e.Time.UnixMilli(), Message: e.Message}
	}
	return c.callJSON(ctx, Logs, "Logs_20140328.PutLogEvents", in, nil)
}

// While the instance being replaced still holds the volume, AttachVolume
// answers one of these; it is worth asking again.
var attachLater = map[string]bool{"IncorrectState": true, "VolumeInUse": true, "IncorrectInstanceState": true}

// AttachVolume asks EC2 to attach a volume to an instance as device; it
// returns once EC2 accepted (the attachment then takes a few seconds).
func (c *Client) AttachVolume(ctx context.Context, volumeID, instanceID, device string) error {
	form := url.Values{
		"Action":     {"AttachVolume"},
		"Version":    {"2016-11-15"},
		"VolumeId":   {volumeID},
		"InstanceId": {instanceID},
		"Device":     {device},
	}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	resp, err := c.send(ctx, EC2, "AttachVolume", header, []byte(form.Encode()), attachLater)
	if err != nil {
		return err
	}
	var out struct {
		VolumeID string `xml:"volumeId"`
	}
	if err := xml.Unmarshal(resp, &out); err != nil {
		return fmt.Errorf("AttachVolume: reading the answer: %w", err)
	}
	return nil
}
