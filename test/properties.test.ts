import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { renderLinuxKitConfig } from "../components/linuxkit/render";
import type { ProjectFiles } from "../schema/compose/context";
import { ConversionError } from "../schema/diagnostics";
import { defineApp, loadText } from "../schema/load";
import { linuxkitSchemaErrors } from "./linuxkit-schema";

/** An empty project: no bind source, env_file or .env exists. */
const noFiles: ProjectFiles = {
  kind: () => undefined,
  readText: () => "",
  readBytes: () => new Uint8Array(),
  digest: () => `sha256:${"0".repeat(64)}`,
};

const loadsOrFailsCleanly = (text: string) => {
  try {
    loadText(text, "/project/compose.yaml", { env: {}, files: noFiles });
  } catch (e) {
    if (!(e instanceof ConversionError)) throw e;
    expect(e.errors.length).toBeGreaterThan(0);
  }
};

const key = fc.constantFrom(
  "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes", "tmpfs", "secrets",
  "healthcheck", "depends_on", "deploy", "cap_add", "cap_drop", "user", "ulimits", "sysctls", "profiles", "x-i2kit",
  "privileged", "read_only", "restart", "network_mode", "security_opt", "labels", "platform", "scale", "containers", "name",
);
const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.double());
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("node"), { maxLength: 4 }), fc.dictionary(fc.oneof(key, fc.string()), tie("node"), { maxKeys: 4 })),
})).node;

describe("the loaders on arbitrary input", () => {
  it("throw nothing but ConversionError on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), loadsOrFailsCleanly), { numRuns: 300 });
  });

  it("throw nothing but ConversionError on arbitrary YAML documents", () => {
    fc.assert(fc.property(value, (doc) => loadsOrFailsCleanly(stringify(doc))), { numRuns: 300 });
  });

  it("throw nothing but ConversionError on Compose-shaped documents with arbitrary services", () => {
    const service = fc.dictionary(key, value, { maxKeys: 6 });
    const compose = fc.record({
      services: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), service, { minKeys: 1, maxKeys: 3 }),
      volumes: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 2 }), { nil: undefined }),
      secrets: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 2 }), { nil: undefined }),
    });
    fc.assert(fc.property(compose, (doc) => loadsOrFailsCleanly(stringify(doc))), { numRuns: 500 });
  });

  it("throw nothing but ConversionError on manifest-shaped documents", () => {
    const container = fc.dictionary(fc.constantFrom("image", "command", "environment", "ports"), value, { maxKeys: 4 });
    const manifest = fc.record({
      name: value,
      replicas: value,
      stateful: value,
      containers: fc.dictionary(fc.string({ maxLength: 6 }), container, { maxKeys: 3 }),
    });
    fc.assert(fc.property(manifest, (doc) => loadsOrFailsCleanly(stringify(doc))), { numRuns: 300 });
  });
});

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
const container = fc.record({
  name: word,
  image: fc.constantFrom("nginx:1.27", "redis@sha256:" + "c".repeat(64), "ghcr.io/acme/api:2"),
  command: fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
  environment: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), fc.string(), { maxKeys: 4 }),
  capAdd: fc.subarray(["CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_IPC_LOCK"]),
  capDrop: fc.subarray(["CAP_NET_RAW", "CAP_MKNOD", "ALL"]),
  privileged: fc.boolean(),
  readOnly: fc.boolean(),
  user: fc.option(fc.constantFrom("1000", "1000:1000", "nginx"), { nil: undefined }),
  mounts: fc.array(
    fc.oneof(
      fc.record({ type: fc.constant("volume" as const), source: word, target: word.map((w) => `/data/${w}`), readOnly: fc.boolean() }),
      fc.record({ type: fc.constant("tmpfs" as const), target: word.map((w) => `/tmp/${w}`) }),
    ),
    { maxLength: 3 },
  ),
  sysctls: fc.dictionary(fc.constantFrom("net.core.somaxconn", "net.ipv4.ip_forward"), fc.integer({ min: 0, max: 4096 }).map(String)),
});

describe("the Compose loader on arbitrary valid services", () => {
  const port = fc.integer({ min: 1, max: 65535 });
  const mapping = fc.record({ published: port, target: port, udp: fc.boolean() });
  const service = fc.record({
    image: fc.constantFrom("nginx", "postgres:16", "ghcr.io/acme/api@sha256:" + "d".repeat(64)),
    ports: fc.uniqueArray(mapping, { selector: (m) => `${m.published}/${m.udp}`, maxLength: 4 }).map((ms) =>
      ms.map((m) => `${m.published}:${m.target}${m.udp ? "/udp" : ""}`),
    ),
    environment: fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), fc.string({ maxLength: 12 }), { maxKeys: 4 }),
    cap_drop: fc.subarray(["NET_RAW", "MKNOD", "ALL"]),
    deploy: fc.record({ replicas: fc.integer({ min: 0, max: 20 }) }),
  });

  it("always loads, keeps every port and variable, and renders a valid config", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/), service, { minKeys: 1, maxKeys: 3 }), (services) => {
        // Values are quoted in YAML, and `$` would be interpolated: escape it as Compose users do.
        for (const s of Object.values(services)) for (const k of Object.keys(s.environment)) s.environment[k] = (s.environment[k] ?? "").replace(/\$/g, "$$$$");
        const { app } = loadText(stringify({ services }), "/project/compose.yaml", { env: {}, files: noFiles });
        expect(app.services.map((s) => s.name)).toEqual(Object.keys(services));
        for (const spec of app.services) {
          const source = services[spec.name];
          expect(spec.listeners).toHaveLength(source?.ports.length ?? -1);
          expect(spec.replicas).toBe(source?.deploy.replicas);
          expect(Object.keys(spec.containers[0]?.environment ?? {}).sort()).toEqual(Object.keys(source?.environment ?? {}).sort());
          expect(linuxkitSchemaErrors(parse(renderLinuxKitConfig(spec).yaml))).toEqual([]);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("the renderer on arbitrary valid specs", () => {
  it("is deterministic and always yields a config LinuxKit's schema accepts", () => {
    fc.assert(
      fc.property(word, fc.uniqueArray(container, { selector: (c) => c.name, minLength: 1, maxLength: 3 }), (name, containers) => {
        const app = defineApp({ name: "app", services: [{ name, containers }] });
        const spec = app.services[0];
        if (!spec) throw new Error("no service");
        const first = renderLinuxKitConfig(spec);
        const second = renderLinuxKitConfig(structuredClone(spec));
        expect(second.yaml).toBe(first.yaml);
        expect(second.contentHash).toBe(first.contentHash);
        expect(linuxkitSchemaErrors(parse(first.yaml))).toEqual([]);
        for (const s of first.config.services ?? []) {
          const wantsAll = containers.find((c) => c.name === s.name)?.privileged === true;
          expect(s.capabilities?.includes("all")).toBe(wantsAll);
        }
      }),
      { numRuns: 200 },
    );
  });
});
