// ContainerImage: a container's image, pinned to its digest. A `build`
// becomes an ECR repository and a docker build and push; an `image` is looked
// up in its registry. Either way `imageRef` is `repo@sha256:…`.
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { BuildSpec } from "../schema/spec";
import { isPinned, parseImageReference, pinnedReference } from "./image-reference";
import { i2kitTags, resourceName } from "./tags";

export interface ContainerImageArgs {
  app: string;
  /** Absent for an image the whole app shares, such as the boot agent's. */
  service?: string;
  container: string;
  /** An image reference to pin; ignored when `build` is given. */
  image?: string;
  build?: BuildSpec;
  /** Directory the build context is relative to. */
  projectDir?: string;
  /** Platform to build for, e.g. linux/arm64; the build's own platform wins. */
  platform?: string;
  /** Keep this many untagged images in the ECR repository (default 10). */
  keepImages?: number;
}

export class ContainerImage extends pulumi.ComponentResource {
  /** `repo@sha256:…` */
  readonly imageRef: pulumi.Output<string>;
  /** The ECR repository when the image is built here. */
  readonly repositoryUrl: pulumi.Output<string | undefined>;
  /** Registry credentials needed to pull `imageRef` (ECR images only); secret. */
  readonly registryAuth: pulumi.Output<RegistryAuth | undefined>;

  constructor(name: string, args: ContainerImageArgs, opts?: pulumi.ComponentResourceOptions) {
    // Arguments are checked before the component registers: a bad one leaves nothing behind.
    if (!args.build && !args.image) throw new Error(`ContainerImage ${name}: give an image to pin or a build`);
    super("i2kit:index:ContainerImage", name, {}, opts);
    const tags = i2kitTags(args.app, args.service, { "i2kit:container": args.container });

    if (args.build) {
      const repository = new aws.ecr.Repository(
        `${name}-repo`,
        {
          name: resourceName([args.app, args.service ?? "", args.container], 200),
          imageTagMutability: "IMMUTABLE",
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [{ encryptionType: "KMS" }],
          forceDelete: false,
          tags,
        },
        { parent: this },
      );
      new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        {
          repository: repository.name,
          policy: JSON.stringify({
            rules: [
              {
                rulePriority: 1,
                description: "keep the most recent images only",
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: args.keepImages ?? 10 },
                action: { type: "expire" },
              },
            ],
          }),
        },
        { parent: this },
      );
      const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
      const auth = pulumi.secret(
        pulumi.all([repository.repositoryUrl, token.userName, token.password]).apply(([url, username, password]) => ({
          server: url.split("/")[0] ?? url,
          username,
          password,
        })),
      );
      const build = args.build;
      const context = path.resolve(args.projectDir ?? ".", build.context);
      const image = new docker.Image(
        `${name}-image`,
        {
          // A tag per build content would need hashing the context; the digest pins it anyway.
          imageName: pulumi.interpolate`${repository.repositoryUrl}:latest`,
          build: {
            context,
            ...(build.dockerfile ? { dockerfile: path.resolve(context, build.dockerfile) } : {}),
            ...(build.target ? { target: build.target } : {}),
            ...(Object.keys(build.args).length > 0 ? { args: build.args } : {}),
            platform: build.platform ?? args.platform ?? "linux/amd64",
          },
          registry: auth.apply((a) => ({ server: a.server, username: a.username, password: a.password })),
        },
        { parent: this },
      );
      this.imageRef = pulumi
        .all([repository.repositoryUrl, image.repoDigest])
        .apply(([url, repoDigest]) => pinnedReference(url, parseImageReference(repoDigest).digest ?? repoDigest));
      this.repositoryUrl = repository.repositoryUrl;
      this.registryAuth = auth;
    } else {
      const ref = args.image as string;
      if (isPinned(ref)) {
        const { repository, digest } = parseImageReference(ref);
        this.imageRef = pulumi.output(pinnedReference(repository, digest as string));
      } else {
        const found = docker.getRegistryImageOutput({ name: ref }, { parent: this });
        this.imageRef = found.sha256Digest.apply((digest) => pinnedReference(parseImageReference(ref).repository, digest));
      }
      this.repositoryUrl = pulumi.output(undefined);
      this.registryAuth = pulumi.output(undefined);
    }
    this.registerOutputs({ imageRef: this.imageRef, repositoryUrl: this.repositoryUrl });
  }
}

export interface RegistryAuth {
  server: string;
  username: string;
  password: string;
}
