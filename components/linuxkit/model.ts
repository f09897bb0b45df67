// The LinuxKit config as plain types: the part of LinuxKit's own model
// (src/cmd/linuxkit/moby/config.go) that i2kit renders. Field names are
// LinuxKit's, so an object of these types serialises straight to its YAML.

export interface LinuxKitKernel {
  image: string;
  cmdline?: string;
}

export interface LinuxKitFile {
  path: string;
  directory?: boolean;
  contents?: string;
  source?: string;
  mode?: string;
  uid?: number | string;
  gid?: number | string;
}

export interface LinuxKitRuntime {
  mkdir?: string[];
}

export interface LinuxKitResources {
  memory?: { limit?: number; reservation?: number };
  cpu?: { quota?: number; period?: number };
  pids?: { limit?: number };
}

/** One container, run once at boot (`onboot`) or kept running (`services`). */
export interface LinuxKitImage {
  name: string;
  image: string;
  capabilities?: string[];
  binds?: string[];
  tmpfs?: string[];
  command?: string[];
  env?: string[];
  cwd?: string;
  net?: string;
  readonly?: boolean;
  uid?: number | string;
  gid?: number | string;
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  resources?: LinuxKitResources;
  sysctl?: Record<string, string>;
  rlimits?: string[];
  annotations?: Record<string, string>;
  runtime?: LinuxKitRuntime;
}

export interface LinuxKitConfig {
  kernel: LinuxKitKernel;
  init: string[];
  onboot?: LinuxKitImage[];
  services?: LinuxKitImage[];
  files?: LinuxKitFile[];
}
