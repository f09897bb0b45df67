// Every image the base VM is made of, pinned in one place. These are the
// images of LinuxKit's own examples/platform-aws.yml and examples/docker.yml
// (format, mount) at release v1.8.2, commit 43200ea6342590c6806f808b318d7f3a69b0cdd8;
// a renderer option overrides any of them (for a mirror, or a test cache).
// LinuxKit's `metadata` package is left out on purpose: it speaks IMDSv1 only.

export interface BaseImages {
  kernel: string;
  init: string;
  runc: string;
  containerd: string;
  caCertificates: string;
  sysctl: string;
  dhcpcd: string;
  format: string;
  mount: string;
}

export const DEFAULT_BASE_IMAGES: Readonly<BaseImages> = {
  kernel: "linuxkit/kernel:6.6.71",
  init: "linuxkit/init:680da6e6f79bb8236a095147d532cd2160e23c9f",
  runc: "linuxkit/runc:2dfee46421e963d6c0d946137e46fe36fa606d29",
  containerd: "linuxkit/containerd:838b745e38e43309393675ce3cf04bee9047eb91",
  caCertificates: "linuxkit/ca-certificates:a4f15fe71bb0ad7560ff78f48504dd2af500a442",
  sysctl: "linuxkit/sysctl:2fad4cdf96faa97bf7888696b8c3ca00f98137af",
  dhcpcd: "linuxkit/dhcpcd:4681273eeea47c26d980958656e60fe70d49e318",
  format: "linuxkit/format:512d4fb6cd40c1d90a4aa8335d1bd167fa34a10e",
  mount: "linuxkit/mount:54906e884b21aca02bf5ecae65f3741b89d8c4e6",
};

/** The kernel command line of LinuxKit's AWS platform: the serial console is what EC2 shows. */
export const AWS_KERNEL_CMDLINE = "console=ttyS0";
