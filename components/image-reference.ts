// Image references: `nginx`, `nginx:1.27`, `ghcr.io/acme/api:2@sha256:…`.

export interface ImageReference {
  /** Registry and path, without tag or digest: `docker.io/library/nginx` stays `nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function parseImageReference(ref: string): ImageReference {
  const [beforeDigest, digest] = ref.split("@") as [string, string | undefined];
  // A colon after the last slash starts the tag; one before it belongs to a registry port.
  const slash = beforeDigest.lastIndexOf("/");
  const colon = beforeDigest.lastIndexOf(":");
  const hasTag = colon > slash;
  const out: ImageReference = { repository: hasTag ? beforeDigest.slice(0, colon) : beforeDigest };
  if (hasTag) out.tag = beforeDigest.slice(colon + 1);
  if (digest !== undefined) out.digest = digest;
  return out;
}

export function isPinned(ref: string): boolean {
  const digest = parseImageReference(ref).digest;
  return digest !== undefined && DIGEST.test(digest);
}

/** `repo@sha256:…`, the only form a rendered config uses. */
export function pinnedReference(repository: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`"${digest}" is not a sha256 digest`);
  return `${repository}@${digest}`;
}
