// `volumes` and `tmpfs`: short and long syntax become typed mounts.
// Named volumes live on the VM's data disk; relative bind mounts are baked
// into the image; host paths cannot exist on a VM and are errors.
import * as path from "node:path";
import type { DocPath } from "../diagnostics";
import type { Mount } from "../spec";
import { describe, type ServiceContext } from "./context";
import { parseBytes } from "./units";

/** Text files up to this size are inlined in the LinuxKit config. */
export const INLINE_FILE_LIMIT = 64 * 1024;

const SHORT_MODES = new Set(["ro", "rw", "z", "Z", "nocopy", "cached", "delegated", "consistent", "shared", "rshared", "slave", "rslave", "private", "rprivate"]);

export interface VolumesContext extends ServiceContext {
  declaredVolumes: ReadonlySet<string>;
  containerName: string;
}

export function transformVolumes(volumes: unknown, tmpfs: unknown, ctx: VolumesContext): Mount[] {
  const mounts: Mount[] = [];
  if (volumes !== undefined) {
    const at = [...ctx.path, "volumes"];
    if (!Array.isArray(volumes)) ctx.report.error(at, `must be a list, not ${describe(volumes)}`);
    else
      volumes.forEach((entry, i) => {
        const mount = typeof entry === "string" ? shortVolume(entry, [...at, i], ctx, i) : longVolume(entry, [...at, i], ctx, i);
        if (mount) mounts.push(mount);
      });
  }
  if (tmpfs !== undefined) {
    const at = [...ctx.path, "tmpfs"];
    const list = typeof tmpfs === "string" ? [tmpfs] : tmpfs;
    if (!Array.isArray(list)) ctx.report.error(at, `must be a path or a list of paths, not ${describe(tmpfs)}`);
    else
      list.forEach((entry, i) => {
        const where = typeof tmpfs === "string" ? at : [...at, i];
        const mount = typeof entry === "string" ? shortTmpfs(entry, where, ctx) : undefined;
        if (typeof entry !== "string") ctx.report.error(where, `${describe(entry)} is not a tmpfs path`);
        if (mount) mounts.push(mount);
      });
  }
  const targets = new Map<string, number>();
  mounts.forEach((m) => {
    if (targets.has(m.target)) ctx.report.error([...ctx.path, "volumes"], `two mounts have the same target ${m.target}`);
    targets.set(m.target, 1);
  });
  return mounts;
}

function shortTmpfs(entry: string, at: DocPath, ctx: ServiceContext): Mount | undefined {
  const [target, options] = splitOnce(entry, ":");
  if (!target.startsWith("/")) {
    ctx.report.error(at, `tmpfs target ${JSON.stringify(target)} must be an absolute path`);
    return undefined;
  }
  const mount: Mount = { type: "tmpfs", target };
  for (const option of options ? options.split(",") : []) {
    const [key, value] = splitOnce(option, "=");
    if (key === "size" && parseBytes(value) !== undefined) mount.sizeBytes = parseBytes(value);
    else if (key === "mode" && /^[0-7]{3,4}$/.test(value ?? "")) mount.mode = parseInt(value as string, 8);
    else ctx.report.warn(at, `tmpfs option ${JSON.stringify(option)} is ignored (size and mode are supported)`);
  }
  return mount;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const i = text.indexOf(separator);
  return i === -1 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}

function isPathSource(source: string): boolean {
  return source.startsWith(".") || source.startsWith("/") || source.startsWith("~") || /^[A-Za-z]:[\\/]/.test(source);
}

function shortVolume(entry: string, at: DocPath, ctx: VolumesContext, index: number): Mount | undefined {
  const parts = entry.split(":");
  if (parts.some((p) => p === "") || parts.length > 3) {
    ctx.report.error(at, `${JSON.stringify(entry)} is not a valid volume (SOURCE:TARGET[:MODE] or TARGET)`);
    return undefined;
  }
  if (parts.length === 1) return anonymousVolume(parts[0] as string, at, ctx, index, false);
  const [source, target, mode] = parts as [string, string, string | undefined];
  const modes = mode ? mode.split(",") : [];
  for (const m of modes) {
    if (!SHORT_MODES.has(m)) {
      ctx.report.error(at, `volume mode "${m}" is not valid (ro, rw, z, Z, nocopy, …)`);
      return undefined;
    }
  }
  const readOnly = modes.includes("ro");
  if (!target.startsWith("/")) {
    ctx.report.error(at, `volume target ${JSON.stringify(target)} must be an absolute path`);
    return undefined;
  }
  if (isPathSource(source)) return bindMount(source, target, readOnly, at, ctx);
  return namedVolume(source, target, readOnly, at, ctx);
}

function longVolume(entry: unknown, at: DocPath, ctx: VolumesContext, index: number): Mount | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    ctx.report.error(at, `${describe(entry)} is not a valid volume`);
    return undefined;
  }
  const v = entry as Record<string, unknown>;
  const known = ["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"];
  for (const key of Object.keys(v)) {
    if (!known.includes(key) && !key.startsWith("x-")) ctx.report.error([...at, key], `unknown key "${key}" in a volume`);
  }
  const target = v.target;
  if (typeof target !== "string" || !target.startsWith("/")) {
    ctx.report.error([...at, "target"], `volume target ${describe(target)} must be an absolute path`);
    return undefined;
  }
  const readOnly = v.read_only === true || v.read_only === "true";
  const source = typeof v.source === "string" && v.source !== "" ? v.source : undefined;
  switch (v.type) {
    case "bind":
      if (!source) {
        ctx.report.error([...at, "source"], "a bind mount needs a source");
        return undefined;
      }
      return bindMount(source, target, readOnly, at, ctx);
    case "volume":
      return source ? namedVolume(source, target, readOnly, at, ctx) : anonymousVolume(target, at, ctx, index, readOnly);
    case "tmpfs": {
      const options = (v.tmpfs ?? {}) as Record<string, unknown>;
      const mount: Mount = { type: "tmpfs", target };
      const size = options.size === undefined ? undefined : parseBytes(options.size);
      if (options.size !== undefined && size === undefined) ctx.report.error([...at, "tmpfs", "size"], `${describe(options.size)} is not a size`);
      if (size !== undefined) mount.sizeBytes = size;
      if (typeof options.mode === "number") mount.mode = options.mode;
      return mount;
    }
    case "cluster":
    case "npipe":
    case "image":
      ctx.report.error([...at, "type"], `volume type "${v.type}" cannot be honoured on a VM`);
      return undefined;
    default:
      ctx.report.error([...at, "type"], `${describe(v.type)} is not a volume type (bind, volume or tmpfs)`);
      return undefined;
  }
}

function namedVolume(source: string, target: string, readOnly: boolean, at: DocPath, ctx: VolumesContext): Mount | undefined {
  if (!ctx.declaredVolumes.has(source)) {
    ctx.report.error(at, `named volume "${source}" is not declared in the top-level volumes`);
    return undefined;
  }
  return { type: "volume", source, target, readOnly };
}

function anonymousVolume(target: string, at: DocPath, ctx: VolumesContext, index: number, readOnly: boolean): Mount | undefined {
  if (!target.startsWith("/")) {
    ctx.report.error(at, `volume target ${JSON.stringify(target)} must be an absolute path`);
    return undefined;
  }
  ctx.report.warn(at, `anonymous volume at ${target} starts empty on the VM: the image's files at that path are not copied into it`);
  return { type: "volume", source: `${ctx.serviceName}-${ctx.containerName}-anonymous-${index}`, target, readOnly };
}

function bindMount(source: string, target: string, readOnly: boolean, at: DocPath, ctx: ServiceContext): Mount | undefined {
  if (/(^|\/)docker\.sock$/.test(source)) {
    ctx.report.error(at, `bind mount of the Docker socket ${source} cannot be honoured: an i2kit VM runs no Docker engine`);
    return undefined;
  }
  if (!source.startsWith(".")) {
    ctx.report.error(
      at,
      `bind mount of host path ${source} cannot be honoured on a VM: use a path relative to the project to bake files into the image, or a named volume for data`,
    );
    return undefined;
  }
  const absolute = path.resolve(ctx.projectDir, source);
  const kind = ctx.files.kind(absolute);
  if (!kind) {
    ctx.report.error(at, `bind source ${source} does not exist (it is baked into the VM image, so it must exist when rendering)`);
    return undefined;
  }
  const relative = path.relative(ctx.projectDir, absolute).split(path.sep).join("/") || ".";
  const mount: Mount = { type: "bind", source: relative, target, readOnly, kind, digest: ctx.files.digest(absolute) };
  if (kind === "file") {
    const bytes = ctx.files.readBytes(absolute);
    const text = bytes.length <= INLINE_FILE_LIMIT ? asText(bytes) : undefined;
    if (text !== undefined) mount.contents = text;
  }
  if (!readOnly) {
    ctx.report.warn(at, `bind mount ${source} is baked into the image: writes to ${target} stay on one VM and are lost when it is replaced`);
  }
  return mount;
}

function asText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
