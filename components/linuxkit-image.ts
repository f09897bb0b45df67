// LinuxKitImage: renders a service's LinuxKit config with its pinned images
// and builds the VM disk image with the `linuxkit` CLI. The build re-runs
// only when the config's content hash changes.
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../schema/spec";
import { ARCHITECTURES, type Architecture } from "./architecture";
import type { RegistryAuth } from "./container-image";
import type { BaseImages } from "./linuxkit/images";
import { renderLinuxKitConfig, type ResolvedImage } from "./linuxkit/render";

export interface LinuxKitImageArgs {
  /** The app the service belongs to: it names the log group and the managed secrets. */
  app: string;
  service: ServiceSpec;
  /** The boot agent's image, pinned (from ContainerImage). */
  agentImage: pulumi.Input<string>;
  /** Pinned images by container name (from ContainerImage). */
  images: pulumi.Input<Record<string, pulumi.Input<ResolvedImage>>>;
  architecture: Architecture;
  /** Where configs and disk images are written (default `.i2kit/build`). */
  outputDir?: string;
  /** Directory relative bind sources are read from (the Compose file's). */
  projectDir?: string;
  baseImages?: Partial<BaseImages>;
  /** Credentials for private registries, handed to `linuxkit build` for that command only. */
  registryAuth?: pulumi.Input<pulumi.Input<RegistryAuth | undefined>[]>;
  /** The `linuxkit` executable (default `linuxkit` on PATH). */
  linuxkitPath?: string;
}

/** Checks the tools before building, and writes a Docker config with the registry logins for linuxkit only. */
export function buildScript(linuxkit: string, format: string, configFile: string, name: string, dir: string): string {
  return [
    "set -eu",
    `command -v ${linuxkit} >/dev/null 2>&1 || { echo "i2kit: linuxkit is not installed: go install github.com/linuxkit/linuxkit/src/cmd/linuxkit@v1.8.2, or set linuxkitPath" >&2; exit 127; }`,
    `command -v docker >/dev/null 2>&1 || { echo "i2kit: docker is not installed: linuxkit needs the docker CLI to pull images (https://docs.docker.com/engine/install/)" >&2; exit 127; }`,
    `mkdir -p "${dir}"`,
    `cat > "${configFile}"`,
    // The logins live in a throwaway DOCKER_CONFIG that is removed when the build ends.
    'export DOCKER_CONFIG="$(mktemp -d)"; trap \'rm -rf "$DOCKER_CONFIG"\' EXIT',
    `auths="\${I2KIT_DOCKER_AUTHS:-}"; [ -n "$auths" ] || auths='{"auths":{}}'`,
    'printf %s "$auths" > "$DOCKER_CONFIG/config.json"',
    `${linuxkit} build --format ${format} --name "${name}" --dir "${dir}" "${configFile}" >&2`,
  ].join("\n");
}

export class LinuxKitImage extends pulumi.ComponentResource {
  /** The rendered LinuxKit YAML. */
  readonly config: pulumi.Output<string>;
  /** `sha256:<hex>` of `config`. */
  readonly contentHash: pulumi.Output<string>;
  /** Path of the built disk image. */
  readonly imagePath: pulumi.Output<string>;

  constructor(name: string, args: LinuxKitImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("i2kit:index:LinuxKitImage", name, {}, opts);
    const facts = ARCHITECTURES[args.architecture];
    const outputDir = path.resolve(args.outputDir ?? ".i2kit/build");
    const rendered = pulumi
      .all([pulumi.output(args.images), pulumi.output(args.agentImage)])
      .apply(([images, agentImage]) =>
        renderLinuxKitConfig(args.service, { app: args.app, images, agent: { image: agentImage }, ...(args.baseImages ? { baseImages: args.baseImages } : {}) }),
      );
    // What the renderer had to guess (an entrypoint it cannot know yet) is said in the deploy log.
    rendered.warnings.apply((warnings) => warnings.forEach((w) => pulumi.log.warn(w, this)));
    this.config = rendered.yaml;
    this.contentHash = rendered.contentHash;
    const imageName = rendered.contentHash.apply((hash) => `${args.service.name}-${hash.slice("sha256:".length, "sha256:".length + 16)}`);
    const configFile = imageName.apply((n) => path.join(outputDir, `${n}.linuxkit.yml`));
    const auths = pulumi.secret(
      pulumi.output(args.registryAuth ?? []).apply((list) => {
        const entries: Record<string, { auth: string }> = {};
        for (const a of list) if (a) entries[a.server] = { auth: Buffer.from(`${a.username}:${a.password}`).toString("base64") };
        return JSON.stringify({ auths: entries });
      }),
    );
    const build = new command.local.Command(
      `${name}-build`,
      {
        create: pulumi
          .all([imageName, configFile])
          .apply(([n, file]) => buildScript(args.linuxkitPath ?? "linuxkit", facts.linuxkitFormat, file, n, outputDir)),
        stdin: rendered.yaml,
        dir: args.projectDir ?? ".",
        environment: { I2KIT_DOCKER_AUTHS: auths },
        triggers: [rendered.contentHash],
        logging: "stderr",
      },
      { parent: this },
    );
    this.imagePath = pulumi
      .all([imageName, build.id])
      .apply(([n]) => path.join(outputDir, `${n}${facts.imageSuffix}`));
    this.registerOutputs({ config: this.config, contentHash: this.contentHash, imagePath: this.imagePath });
  }
}
