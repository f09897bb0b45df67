// Capability arithmetic, as Docker does it: the default set minus cap_drop,
// plus cap_add (an added capability wins over a dropped one). LinuxKit's
// `all` is only rendered for a privileged container; `cap_add: [ALL]` is
// spelled out as the full list, and the loader warns about it.
import { LINUX_CAPABILITIES } from "../../schema/capabilities";

/** The capabilities Docker grants a container by default (moby's oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_AUDIT_WRITE",
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_MKNOD",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_RAW",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];

export interface CapabilityRequest {
  capAdd: readonly string[];
  capDrop: readonly string[];
  privileged: boolean;
}

/** The sorted capability list of a container, or `["all"]` when privileged. */
export function effectiveCapabilities({ capAdd, capDrop, privileged }: CapabilityRequest): string[] {
  if (privileged) return ["all"];
  const set = new Set<string>(capAdd.includes("ALL") ? LINUX_CAPABILITIES : DOCKER_DEFAULT_CAPABILITIES);
  for (const cap of capAdd) if (cap !== "ALL") set.add(cap);
  if (capDrop.includes("ALL")) {
    set.clear();
    // As in Docker, cap_add still applies after dropping ALL.
    for (const cap of capAdd) if (cap !== "ALL") set.add(cap);
  }
  for (const cap of capDrop) if (cap !== "ALL" && !capAdd.includes(cap)) set.delete(cap);
  return [...set].sort();
}
