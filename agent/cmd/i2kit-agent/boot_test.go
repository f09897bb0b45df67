package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testBooter boots with cfg against the fakes, with short time bounds, a
// fake sysfs and uptime, and every directory taken for tmpfs.
func testBooter(t *testing.T, cfg *Config, userData string) (*booter, *fakeAWS, *lockedBuffer) {
	t.Helper()
	aws := newFakeAWS(t)
	stderr := &lockedBuffer{}
	b := newBooter(cfg, newFakeIMDS(t, userData), stderr)
	b.sysfs = t.TempDir()
	b.uptimePath = filepath.Join(t.TempDir(), "uptime")
	if err := os.WriteFile(b.uptimePath, []byte("5.21 10.02\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.checkTmpfs = func(string) error { return nil }
	b.secretsFor, b.attachFor, b.deviceFor = 2*time.Second, 2*time.Second, 2*time.Second
	b.pollEvery, b.backoff, b.maxBackoff = 5*time.Millisecond, time.Millisecond, 5*time.Millisecond
	return b, aws, stderr
}

func secretsConfig(dir string) *Config {
	return &Config{
		App: "shop", Service: "api",
		Secrets: []Secret{
			{Name: "db_password", SecretID: "i2kit/shop/api/db_password", Container: "api", Path: filepath.Join(dir, "api", "db_password"), UID: ptr(os.Getuid()), GID: ptr(os.Getgid())},
			{Name: "api_key", SecretID: "i2kit/shop/api/api_key", Container: "api", Path: filepath.Join(dir, "api", "api_key"), UID: ptr(os.Getuid()), GID: ptr(os.Getgid())},
			{Name: "db_password", SecretID: "i2kit/shop/api/db_password", Container: "worker", Path: filepath.Join(dir, "worker", "db_password"), UID: ptr(os.Getuid()), GID: ptr(os.Getgid()), Mode: 0o440},
		},
		LogGroup: "/i2kit/shop/api", Containers: []string{"api", "worker"},
	}
}

// files lists every file under dir, temporary ones included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func TestBootWritesEverySecretWithItsModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	b, aws, stderr := testBooter(t, secretsConfig(dir), "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	aws.secrets["i2kit/shop/api/api_key"] = "k3y"
	if err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := stderr.String(); got != "i2kit-agent: 3 secret(s) written at 5.21 s after boot\n" {
		t.Fatalf("stderr %q", got)
	}
	for _, s := range b.cfg.Secrets {
		data, err := os.ReadFile(s.Path)
		if err != nil || string(data) != aws.secrets[s.SecretID] {
			t.Fatalf("%s: %q, %v", s.Path, data, err)
		}
		info, _ := os.Stat(s.Path)
		want := os.FileMode(0o400)
		if s.Mode != 0 {
			want = os.FileMode(s.Mode)
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode() != want || int(st.Uid) != *s.UID || int(st.Gid) != *s.GID {
			t.Fatalf("%s: mode %v owner %d:%d", s.Path, info.Mode(), st.Uid, st.Gid)
		}
	}
	if n := len(files(t, dir)); n != 3 {
		t.Fatalf("%d files, want 3 (no temporary file left)", n)
	}
	// The same secret for two containers is fetched once; every call is signed for Secrets Manager with the role's credentials.
	if len(aws.auth) != 2 {
		t.Fatalf("%d calls", len(aws.auth))
	}
	for _, a := range aws.auth {
		if !regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=ASIATEST/\d{8}/eu-west-1/secretsmanager/aws4_request, `).MatchString(a) {
			t.Fatalf("Authorization %s", a)
		}
	}
}

func TestBootWritesNoSecretWhenOneIsMissing(t *testing.T) {
	dir := t.TempDir()
	b, aws, _ := testBooter(t, secretsConfig(dir), "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	err := b.run(context.Background())
	want := `i2kit-agent: FATAL: secret "api_key" (i2kit/shop/api/api_key): ResourceNotFoundException: Secrets Manager can't find the specified secret.; the service's containers will not start`
	expectFatal(t, err, want)
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("files written: %v", f)
	}
}

func TestBootRefusesAnEmptySecret(t *testing.T) {
	dir := t.TempDir()
	b, aws, _ := testBooter(t, secretsConfig(dir), "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	aws.secrets["i2kit/shop/api/api_key"] = ""
	err := b.run(context.Background())
	want := `i2kit-agent: FATAL: secret "api_key" (i2kit/shop/api/api_key): the secret is empty; the service's containers will not start`
	expectFatal(t, err, want)
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("files written: %v", f)
	}
}

func TestBootWritesNoSecretWhenADirectoryIsNotOnTmpfs(t *testing.T) {
	dir := t.TempDir()
	b, aws, _ := testBooter(t, secretsConfig(dir), "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	aws.secrets["i2kit/shop/api/api_key"] = "k3y"
	b.checkTmpfs = func(d string) error {
		if strings.HasSuffix(d, "worker") {
			return fmt.Errorf("%s is not on tmpfs", d)
		}
		return nil
	}
	err := b.run(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), `i2kit-agent: FATAL: secret "db_password" (i2kit/shop/api/db_password): `+dir+"/worker is not on tmpfs") {
		t.Fatalf("got %v", err)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("files written: %v", f)
	}
}

func TestBootRetriesTransientErrors(t *testing.T) {
	dir := t.TempDir()
	b, aws, _ := testBooter(t, secretsConfig(dir), "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	aws.secrets["i2kit/shop/api/api_key"] = "k3y"
	failures := 3
	aws.fail = func(string) int {
		if failures > 0 {
			failures--
			return 503
		}
		return 0
	}
	if err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(files(t, dir)) != 3 || len(aws.auth) != 5 {
		t.Fatalf("%d files after %d calls", len(files(t, dir)), len(aws.auth))
	}
}

func TestBootGivesUpWithinItsTimeBound(t *testing.T) {
	dir := t.TempDir()
	b, aws, _ := testBooter(t, secretsConfig(dir), "")
	b.secretsFor = 200 * time.Millisecond
	aws.fail = func(string) int { return 500 }
	start := time.Now()
	err := b.run(context.Background())
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("took %v", elapsed)
	}
	want := `i2kit-agent: FATAL: secret "db_password" (i2kit/shop/api/db_password): still failing after 200ms: InternalFailure: the fake is failing; the service's containers will not start`
	expectFatal(t, err, want)
}

func TestBootWithNothingToDoSaysSo(t *testing.T) {
	b, aws, stderr := testBooter(t, &Config{App: "shop", Service: "web", Containers: []string{"web"}}, "")
	if err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "i2kit-agent: 0 secret(s) written at 5.21 s after boot\n" || len(aws.auth) != 0 {
		t.Fatalf("stderr %q, %d calls", stderr.String(), len(aws.auth))
	}
}

func TestRunExitsWithStatusOneAndOneFatalLine(t *testing.T) {
	stderr := &lockedBuffer{}
	code := run(context.Background(), []string{"boot", "-config", "/nonexistent/agent.json"}, stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "i2kit-agent: FATAL: config /nonexistent/agent.json: open /nonexistent/agent.json: ") || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("status %d, stderr %q", code, stderr.String())
	}
	if code := run(context.Background(), []string{"dance"}, stderr); code != 2 {
		t.Fatalf("unknown command: status %d", code)
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	// The README's example, with the renderer's "mode".
	doc := `{"app":"shop","service":"api","secrets":[{"name":"db_password","secretId":"i2kit/shop/api/db_password","container":"api","path":"/run/i2kit/secrets/api/db_password","uid":1000,"gid":1000,"mode":288}],"logGroup":"/i2kit/shop/api","logDir":"/var/log","containers":["api"],"volume":{"device":"/dev/sdf"}}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Secrets[0]
	if c.App != "shop" || c.LogGroup != "/i2kit/shop/api" || c.LogDir != "/var/log" || c.Volume == nil || c.Volume.Device != "/dev/sdf" ||
		s.Name != "db_password" || s.SecretID != "i2kit/shop/api/db_password" || s.Path != "/run/i2kit/secrets/api/db_password" || s.UID == nil || *s.UID != 1000 || s.GID == nil || *s.GID != 1000 || s.Mode != 0o440 {
		t.Fatalf("%+v %+v", c, s)
	}
}

func TestCheckTmpfs(t *testing.T) {
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && st.Type == tmpfsMagic {
		if err := checkTmpfs("/dev/shm"); err != nil {
			t.Fatalf("/dev/shm: %v", err)
		}
	}
	dir, _ := os.Getwd()
	if syscall.Statfs(dir, &st) == nil && st.Type != tmpfsMagic && st.Type != ramfsMagic {
		if err := checkTmpfs(dir); err == nil || !strings.Contains(err.Error(), "is not on tmpfs") {
			t.Fatalf("%s: %v", dir, err)
		}
	}
}

// disk adds a block device to a fake sysfs, the virtio-blk way (block/<name>/serial)
// or the NVMe way (block/<name>/device/serial, padded).
func disk(t *testing.T, sysfs, name, serial string, nvme bool) {
	t.Helper()
	dir := filepath.Join(sysfs, "block", name)
	file := filepath.Join(dir, "serial")
	if nvme {
		dir = filepath.Join(dir, "device")
		file = filepath.Join(dir, "serial")
		serial += "     "
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(serial+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestFindDiskBySerial(t *testing.T) {
	sysfs := t.TempDir()
	disk(t, sysfs, "vda", "root", false)
	disk(t, sysfs, "nvme0n1", "vol0aaaaaaaaaaaaaaaa", true)
	disk(t, sysfs, "nvme1n1", "vol0123456789abcdef0", true)
	disk(t, sysfs, "vdb", "vol0fedcba987654321", false)
	if got, ok := findDisk(sysfs, "vol0123456789abcdef0"); !ok || got != "/dev/nvme1n1" {
		t.Fatalf("nvme: %q %v", got, ok)
	}
	if got, ok := findDisk(sysfs, "vol0fedcba987654321"); !ok || got != "/dev/vdb" {
		t.Fatalf("virtio: %q %v", got, ok)
	}
	if _, ok := findDisk(sysfs, "vol0000"); ok {
		t.Fatal("found a disk that is not there")
	}
}

const userData = `{"i2kit":{"volumeId":"vol-0123456789abcdef0"}}`

func volumeConfig() *Config {
	return &Config{App: "shop", Service: "db", Containers: []string{"db"}, LogGroup: "/i2kit/shop/db", Volume: &Volume{Device: "/dev/sdf"}}
}

func TestBootAttachesTheVolumeAndWaitsForItsDisk(t *testing.T) {
	b, aws, stderr := testBooter(t, volumeConfig(), userData)
	// The instance being replaced still holds it for a while.
	aws.attachErrors = []string{"VolumeInUse", "IncorrectState"}
	done := make(chan error)
	go func() { done <- b.run(context.Background()) }()
	eventually(t, 2*time.Second, "three AttachVolume calls", func() bool {
		aws.mu.Lock()
		defer aws.mu.Unlock()
		return len(aws.attaches) == 3
	})
	time.Sleep(50 * time.Millisecond) // the agent waits for the disk
	disk(t, b.sysfs, "vdb", "vol0123456789abcdef0", false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a := aws.attaches[2]
	if a.Get("VolumeId") != "vol-0123456789abcdef0" || a.Get("InstanceId") != "i-test" || a.Get("Device") != "/dev/sdf" || a.Get("Version") != "2016-11-15" {
		t.Fatalf("AttachVolume %v", a)
	}
	if !strings.Contains(aws.auth[0], "/eu-west-1/ec2/aws4_request") {
		t.Fatalf("Authorization %s", aws.auth[0])
	}
	if got := stderr.String(); got != "i2kit-agent: volume vol-0123456789abcdef0 attached as /dev/vdb at 5.21 s after boot\ni2kit-agent: 0 secret(s) written at 5.21 s after boot\n" {
		t.Fatalf("stderr %q", got)
	}
}

func TestBootAfterARebootFindsItsVolumeAttachedAlready(t *testing.T) {
	b, aws, _ := testBooter(t, volumeConfig(), userData)
	aws.attachErrors = []string{"VolumeInUse", "VolumeInUse", "VolumeInUse"}
	disk(t, b.sysfs, "nvme1n1", "vol0123456789abcdef0", true)
	if err := b.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(aws.attaches) != 1 {
		t.Fatalf("%d AttachVolume calls", len(aws.attaches))
	}
}

func TestBootFailsWhenTheDiskNeverAppears(t *testing.T) {
	b, _, _ := testBooter(t, volumeConfig(), userData)
	b.deviceFor = 100 * time.Millisecond
	err := b.run(context.Background())
	want := "i2kit-agent: FATAL: volume vol-0123456789abcdef0 (/dev/sdf): no block device with serial vol0123456789abcdef0 after 100ms; the service's containers will not start"
	expectFatal(t, err, want)
}

func TestBootFailsWithoutUserData(t *testing.T) {
	b, aws, _ := testBooter(t, volumeConfig(), "")
	err := b.run(context.Background())
	want := "i2kit-agent: FATAL: volume (/dev/sdf): the instance has no user data, so no volume id; the service's containers will not start"
	if err == nil || err.Error() != want || len(aws.attaches) != 0 {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	var f *fatal
	if !errors.As(err, &f) {
		t.Fatalf("not a fatal: %T", err)
	}
}

func TestBootStopsAtAPermanentAttachError(t *testing.T) {
	b, aws, _ := testBooter(t, volumeConfig(), userData)
	aws.attachErrors = []string{"InvalidVolume.ZoneMismatch"}
	err := b.run(context.Background())
	want := "i2kit-agent: FATAL: volume vol-0123456789abcdef0 (/dev/sdf): attach: InvalidVolume.ZoneMismatch: not now; the service's containers will not start"
	if err == nil || err.Error() != want || len(aws.attaches) != 1 {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// expectFatal fails the test unless err is exactly the FATAL line want.
func expectFatal(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func ptr(n int) *int { return &n }

func TestSecretOwner(t *testing.T) {
	dir := t.TempDir()
	// What linuxkit build writes for a service whose user is "1000:2000", or whose image says USER.
	config := filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, []byte(`{"ociVersion":"1.0.2","process":{"user":{"uid":1000,"gid":2000},"args":["httpd"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		secret   Secret
		uid, gid int
		err      string
	}{
		{"given uid and gid", Secret{UID: ptr(70), GID: ptr(71), OwnerFrom: config}, 70, 71, ""},
		{"given uid: gid the same", Secret{UID: ptr(70)}, 70, 70, ""},
		{"the container's own user", Secret{OwnerFrom: config}, 1000, 2000, ""},
		{"nothing known: root", Secret{}, 0, 0, ""},
		{"no such config", Secret{OwnerFrom: filepath.Join(dir, "missing.json")}, 0, 0, "the container's user: open " + filepath.Join(dir, "missing.json") + ": no such file or directory"},
	} {
		uid, gid, err := c.secret.owner()
		if (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) || uid != c.uid || gid != c.gid {
			t.Errorf("%s: %d:%d %v", c.name, uid, gid, err)
		}
	}
}

func TestBootStopsWhenAContainersUserCannotBeRead(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{App: "shop", Service: "api", Containers: []string{"api"}, Secrets: []Secret{
		{Name: "db_password", SecretID: "i2kit/shop/api/db_password", Container: "api", Path: filepath.Join(dir, "api", "db_password"), OwnerFrom: filepath.Join(dir, "nowhere.json")},
	}}
	b, aws, _ := testBooter(t, cfg, "")
	aws.secrets["i2kit/shop/api/db_password"] = "hunter2"
	err := b.run(context.Background())
	expectFatal(t, err, `i2kit-agent: FATAL: secret "db_password" (i2kit/shop/api/db_password): the container's user: open `+filepath.Join(dir, "nowhere.json")+`: no such file or directory; the service's containers will not start`)
	if len(aws.auth) != 0 || len(files(t, dir)) != 0 {
		t.Fatalf("%d calls, files %v", len(aws.auth), files(t, dir))
	}
}
