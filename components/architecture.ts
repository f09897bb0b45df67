// What a VM's CPU architecture decides: the linuxkit output format and how
// the AMI boots. Pure data, derived from the instance type.

export type Architecture = "amd64" | "arm64";

export interface ArchitectureFacts {
  /** `linuxkit build --format …` */
  linuxkitFormat: "aws" | "raw-efi";
  /** File name suffix linuxkit gives that format's output. */
  imageSuffix: string;
  amiArchitecture: "x86_64" | "arm64";
  bootMode: "legacy-bios" | "uefi";
  rootDeviceName: string;
}

export const ARCHITECTURES: Readonly<Record<Architecture, ArchitectureFacts>> = {
  amd64: { linuxkitFormat: "aws", imageSuffix: ".raw", amiArchitecture: "x86_64", bootMode: "legacy-bios", rootDeviceName: "/dev/sda1" },
  arm64: { linuxkitFormat: "raw-efi", imageSuffix: "-efi.img", amiArchitecture: "arm64", bootMode: "uefi", rootDeviceName: "/dev/sda1" },
};

/** Graviton instance families carry a `g` after the generation digit: t4g, m7g, c7gn, r8gd, x2gd, im4gn. */
export function architectureOf(instanceType: string): Architecture {
  const family = instanceType.split(".")[0] ?? "";
  return /^[a-z]+\d+[a-z]*g[a-z]*$/.test(family) && !/^(g|p|inf|trn|dl|vt)\d+$/.test(family) ? "arm64" : "amd64";
}
