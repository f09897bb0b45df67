package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"i2kit/agent/awsapi"
	"i2kit/agent/imds"
	"i2kit/agent/retry"
)

// booter is "i2kit-agent boot"; its fields other than cfg and meta are the
// machine's, replaceable in tests.
type booter struct {
	cfg    *Config
	meta   *imds.Client
	stderr io.Writer

	sysfs      string                 // "/sys"
	uptimePath string                 // "/proc/uptime"
	checkTmpfs func(dir string) error // nil when dir is on tmpfs

	// How long each stage may keep trying, and how often it looks.
	secretsFor, attachFor, deviceFor time.Duration
	pollEvery                        time.Duration
	backoff, maxBackoff              time.Duration
}

func newBooter(cfg *Config, meta *imds.Client, stderr io.Writer) *booter {
	return &booter{
		cfg: cfg, meta: meta, stderr: stderr,
		sysfs: "/sys", uptimePath: "/proc/uptime", checkTmpfs: checkTmpfs,
		secretsFor: 2 * time.Minute, attachFor: 5 * time.Minute, deviceFor: 2 * time.Minute,
		pollEvery: 500 * time.Millisecond, backoff: 500 * time.Millisecond, maxBackoff: 10 * time.Second,
	}
}

// fatal is a failure that stops the boot: the console line names what failed.
type fatal struct {
	subject string
	err     error
}

func (f *fatal) Error() string { return fatalLine(f.subject, f.err) }
func (f *fatal) Unwrap() error { return f.err }

func fatalLine(subject string, err error) string {
	return fmt.Sprintf("i2kit-agent: FATAL: %s: %v; the service's containers will not start", subject, err)
}

func secretSubject(s Secret) string { return fmt.Sprintf("secret %q (%s)", s.Name, s.SecretID) }

// policy retries for at most d in all.
func (b *booter) policy(d time.Duration) retry.Policy {
	return retry.Policy{Attempts: 1 << 30, Base: b.backoff, Max: b.maxBackoff, Deadline: d}
}

// retry is awsapi.Retry, but when time runs out it reports the last real
// failure rather than the deadline that cut the last attempt short.
func (b *booter) retry(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	var last error
	err := awsapi.Retry(ctx, b.policy(d), func(ctx context.Context) error {
		err := fn(ctx)
		if err != nil && ctx.Err() == nil {
			last = err
		}
		return err
	})
	var permanent retry.Permanent
	switch {
	case err == nil:
		return nil
	case errors.As(err, &permanent):
		return permanent.Err
	case last != nil:
		return fmt.Errorf("still failing after %v: %w", d, last)
	}
	return err
}

func (b *booter) run(ctx context.Context) error {
	if len(b.cfg.Secrets) == 0 && b.cfg.Volume == nil {
		fmt.Fprintf(b.stderr, "i2kit-agent: 0 secret(s) written at %s s after boot\n", b.uptime())
		return nil
	}
	var region string
	err := b.retry(ctx, b.secretsFor, func(ctx context.Context) (err error) {
		region, err = awsapi.Region(ctx, b.meta)
		return err
	})
	if err != nil {
		return &fatal{"instance metadata", err}
	}
	// The role's credentials are fetched on the first call, so a failure
	// there names the secret or volume that could not be had.
	client := awsapi.New(region, &awsapi.IMDSCredentials{Meta: b.meta})
	if b.cfg.Volume != nil {
		if err := b.attachVolume(ctx, client); err != nil {
			return err
		}
	}
	return b.writeSecrets(ctx, client)
}

// uptime is the seconds since the kernel started, as /proc/uptime says.
func (b *booter) uptime() string {
	data, err := os.ReadFile(b.uptimePath)
	if fields := strings.Fields(string(data)); err == nil && len(fields) > 0 {
		return fields[0]
	}
	return "?"
}

// volumeID reads the volume's id from the user data, {"i2kit":{"volumeId":"vol-…"}}.
func (b *booter) volumeID(ctx context.Context) (string, error) {
	var data string
	err := b.retry(ctx, b.secretsFor, func(ctx context.Context) (err error) {
		data, err = b.meta.Get(ctx, "/latest/user-data")
		return err
	})
	var status *imds.StatusError
	if errors.As(err, &status) && status.Code == 404 {
		return "", errors.New("the instance has no user data, so no volume id")
	}
	if err != nil {
		return "", fmt.Errorf("user data: %w", err)
	}
	var ud struct {
		I2kit struct {
			VolumeID string `json:"volumeId"`
		} `json:"i2kit"`
	}
	if err := json.Unmarshal([]byte(data), &ud); err != nil {
		return "", fmt.Errorf("user data is not i2kit's JSON: %w", err)
	}
	if !strings.HasPrefix(ud.I2kit.VolumeID, "vol-") {
		return "", fmt.Errorf("user data has no i2kit.volumeId")
	}
	return ud.I2kit.VolumeID, nil
}

// attachVolume attaches the volume as the config's device and waits for
// the disk to appear.
func (b *booter) attachVolume(ctx context.Context, client *awsapi.Client) error {
	device := b.cfg.Volume.Device
	volumeID, err := b.volumeID(ctx)
	if err != nil {
		return &fatal{fmt.Sprintf("volume (%s)", device), err}
	}
	subject := fmt.Sprintf("volume %s (%s)", volumeID, device)
	serial := strings.Replace(volumeID, "-", "", 1)
	var instanceID string
	err = b.retry(ctx, b.secretsFor, func(ctx context.Context) (err error) {
		instanceID, err = awsapi.InstanceID(ctx, b.meta)
		return err
	})
	if err != nil {
		return &fatal{subject, fmt.Errorf("instance id: %w", err)}
	}
	// The instance this one replaces may still hold the volume for a while:
	// VolumeInUse and IncorrectState are retried. After a reboot the volume
	// is still ours: then the disk is there already.
	err = b.retry(ctx, b.attachFor, func(ctx context.Context) error {
		err := client.AttachVolume(ctx, volumeID, instanceID, device)
		if err != nil && awsapi.ErrorCode(err) == "VolumeInUse" {
			if _, ok := findDisk(b.sysfs, serial); ok {
				return nil
			}
		}
		return err
	})
	if err != nil {
		return &fatal{subject, fmt.Errorf("attach: %w", err)}
	}
	disk, err := b.waitDisk(ctx, serial)
	if err != nil {
		return &fatal{subject, err}
	}
	fmt.Fprintf(b.stderr, "i2kit-agent: volume %s attached as %s at %s s after boot\n", volumeID, disk, b.uptime())
	return nil
}

// waitDisk polls sysfs until a block device reports serial.
func (b *booter) waitDisk(ctx context.Context, serial string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.deviceFor)
	defer cancel()
	tick := time.NewTicker(b.pollEvery)
	defer tick.Stop()
	for {
		if disk, ok := findDisk(b.sysfs, serial); ok {
			return disk, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no block device with serial %s after %v", serial, b.deviceFor)
		case <-tick.C:
		}
	}
}

// findDisk returns /dev/<name> of the block device whose serial is serial:
// /sys/block/<name>/serial (virtio-blk) or /sys/block/<name>/device/serial
// (NVMe, as Nitro presents EBS volumes, padded with spaces).
func findDisk(sysfs, serial string) (string, bool) {
	for _, pattern := range []string{"block/*/serial", "block/*/device/serial"} {
		matches, _ := filepath.Glob(filepath.Join(sysfs, pattern))
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil || !strings.EqualFold(strings.TrimSpace(string(data)), serial) {
				continue
			}
			rel, _ := filepath.Rel(filepath.Join(sysfs, "block"), m)
			name, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
			return "/dev/" + name, true
		}
	}
	return "", false
}

// writeSecrets fetches every secret, then writes them all or none.
func (b *booter) writeSecrets(ctx context.Context, client *awsapi.Client) error {
	secrets := b.cfg.Secrets
	// One deadline for all of them, so a boot never waits much more than secretsFor.
	ctx, cancel := context.WithTimeout(ctx, b.secretsFor)
	defer cancel()
	// Owners first: a config that cannot say who may read a secret fails before any is fetched.
	owners := make([][2]int, len(secrets))
	for i, s := range secrets {
		uid, gid, err := s.owner()
		if err != nil {
			return &fatal{secretSubject(s), err}
		}
		owners[i] = [2]int{uid, gid}
	}
	values := map[string][]byte{}
	for _, s := range secrets {
		if _, ok := values[s.SecretID]; ok {
			continue
		}
		var value []byte
		err := b.retry(ctx, b.secretsFor, func(ctx context.Context) (err error) {
			value, err = client.GetSecretValue(ctx, s.SecretID)
			return err
		})
		if err != nil {
			return &fatal{secretSubject(s), err}
		}
		if len(value) == 0 {
			return &fatal{secretSubject(s), errors.New("the secret is empty")}
		}
		values[s.SecretID] = value
	}

	// Each to a temporary file next to its place, then all renamed; on any
	// failure every one is removed, so no container gets a partial set.
	temps := make([]string, len(secrets))
	cleanup := func() {
		for i, s := range secrets {
			if temps[i] != "" {
				os.Remove(temps[i])
			}
			os.Remove(s.Path)
		}
	}
	for i, s := range secrets {
		temp, err := b.writeTemp(s, owners[i], values[s.SecretID])
		if err != nil {
			cleanup()
			return &fatal{secretSubject(s), err}
		}
		temps[i] = temp
	}
	for i, s := range secrets {
		if err := os.Rename(temps[i], s.Path); err != nil {
			cleanup()
			return &fatal{secretSubject(s), err}
		}
	}
	fmt.Fprintf(b.stderr, "i2kit-agent: %d secret(s) written at %s s after boot\n", len(secrets), b.uptime())
	return nil
}

// writeTemp writes value to a new file in s.Path's directory, which must
// be on tmpfs, with s's mode and owner.
func (b *booter) writeTemp(s Secret, owner [2]int, value []byte) (string, error) {
	if !filepath.IsAbs(s.Path) {
		return "", fmt.Errorf("path %q is not absolute", s.Path)
	}
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := b.checkTmpfs(dir); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.Path)+".tmp-*")
	if err != nil {
		return "", err
	}
	mode := os.FileMode(0o400)
	if s.Mode != 0 {
		mode = os.FileMode(s.Mode) & os.ModePerm
	}
	_, err = f.Write(value)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Chown(owner[0], owner[1])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
