// Command i2kit-agent runs inside each i2kit VM (agent/README.md is its
// contract). "boot" is an onboot step: it attaches a stateful service's
// volume and writes the service's secrets, or says why not and fails.
// "ship" is a service: it follows the containers' log files and ships
// every line to CloudWatch Logs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"i2kit/agent/imds"
)

// Config is /etc/i2kit/agent.json, written by the renderer.
type Config struct {
	App        string   `json:"app"`
	Service    string   `json:"service"`
	Secrets    []Secret `json:"secrets"`
	LogGroup   string   `json:"logGroup"`
	LogDir     string   `json:"logDir"`
	Containers []string `json:"containers"`
	Volume     *Volume  `json:"volume,omitempty"`
}

// Secret is one file to write: a Secrets Manager secret for one container.
type Secret struct {
	Name      string `json:"name"`
	SecretID  string `json:"secretId"`
	Container string `json:"container"`
	Path      string `json:"path"`
	// Owner of the file, when the service gives one (Compose's uid and gid).
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`
	// Without UID: the container's OCI config.json as linuxkit build wrote
	// it, whose process.user is the container's own user (the service's
	// user, or the image's USER, resolved to numbers).
	OwnerFrom string `json:"ownerFrom,omitempty"`
	// Mode of the file; 0 (absent) means 0400.
	Mode uint32 `json:"mode,omitempty"`
}

// owner is who the secret's file belongs to: the uid and gid given, or the
// container's own user, or root when neither is known.
func (s Secret) owner() (uid, gid int, err error) {
	if s.UID != nil {
		uid, gid = *s.UID, *s.UID
		if s.GID != nil {
			gid = *s.GID
		}
		return uid, gid, nil
	}
	if s.OwnerFrom == "" {
		return 0, 0, nil
	}
	data, err := os.ReadFile(s.OwnerFrom)
	if err != nil {
		return 0, 0, fmt.Errorf("the container's user: %w", err)
	}
	var spec struct {
		Process *struct {
			User struct {
				UID int `json:"uid"`
				GID int `json:"gid"`
			} `json:"user"`
		} `json:"process"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return 0, 0, fmt.Errorf("the container's user: %s: %w", s.OwnerFrom, err)
	}
	if spec.Process == nil {
		return 0, 0, fmt.Errorf("the container's user: %s has no process", s.OwnerFrom)
	}
	return spec.Process.User.UID, spec.Process.User.GID, nil
}

// Volume is a stateful service's EBS volume; its id comes from the user data.
type Volume struct {
	Device string `json:"device"`
}

func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.LogDir == "" {
		c.LogDir = "/var/log"
	}
	return &c, nil
}

const usage = `usage: i2kit-agent boot [-config FILE]
       i2kit-agent ship [-config FILE] [-max-buffer-bytes N] [-flush-interval D] [-status-interval D]`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run is the program, with its exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("i2kit-agent "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/i2kit/agent.json", "the agent's config file")
	switch args[0] {
	case "boot":
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		cfg, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, fatalLine("config "+*configPath, err))
			return 1
		}
		if err := newBooter(cfg, imds.New(), stderr).run(ctx); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "ship":
		maxBytes := fs.Int("max-buffer-bytes", defaultMaxBufferBytes, "memory ceiling of the buffered lines, in bytes")
		interval := fs.Duration("flush-interval", 5*time.Second, "longest time a line waits before it is sent")
		statusEvery := fs.Duration("status-interval", time.Minute, "how often a line on what was shipped, buffered and dropped is printed (when it changed)")
		if fs.Parse(args[1:]) != nil {
			return 2
		}
		cfg, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "i2kit-agent: ship: %v\n", err)
			return 1
		}
		// The buffer's ceiling counts messages; the Go heap around them may grow
		// to twice its live size before a collection. A soft limit of the
		// ceiling and 8 MiB for the rest makes the collector work harder
		// instead (npm run bench: 22.6 MB peak at an 8 MiB ceiling with this
		// limit, 31.2 MB with twice the ceiling and 16 MiB).
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(int64(*maxBytes) + 8<<20)
		}
		s := newShipper(cfg, imds.New(), stderr)
		s.maxBytes, s.flushEvery, s.statusEvery = *maxBytes, *interval, *statusEvery
		s.run(ctx)
		return 0
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
}
