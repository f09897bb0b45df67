// Every image the base VM is made of, pinned in one place. These are the
// images of LinuxKit's own examples/platform-aws.yml (release v1.8.2);
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
  init: "linuxkit/init:8eea386739975a43af558eec757a7dcb3a3d2e7b",
  runc: "linuxkit/runc:667e7ea2c426a2460ca21e3da065a57dbb3369c9",
  containerd: "linuxkit/containerd:a988a1a8bcbacc2c0390ca0c08f949e2b4b5915d",
  caCertificates: "linuxkit/ca-certificates:7b32a26ca9c275d3ef32b11fe2a83dbd2aee2fdb",
  sysctl: "linuxkit/sysctl:5f56434b81004b50b47ed629b222619168c2bcdf",
  dhcpcd: "linuxkit/dhcpcd:157df9ef45a035f1542ec2270e374f18efef98a5",
  format: "linuxkit/format:3c858f0cf42a2b14441bfb5c266b78f14d2b75a4",
  mount: "linuxkit/mount:cb8caa72248f7082fc2074ce843d53cdc15df04a",
};

/** The kernel command line of LinuxKit's AWS platform: the serial console is what EC2 shows. */
export const AWS_KERNEL_CMDLINE = "console=ttyS0";
