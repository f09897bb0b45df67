import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Service } from "../../components/service";
import { inClear, isSecret, mockPulumi, UNKNOWN, valueOf, type Harness } from "./harness";

const network = { vpcId: "vpc-123", publicSubnetIds: ["subnet-pub-a", "subnet-pub-b"], privateSubnetIds: ["subnet-priv-a", "subnet-priv-b"] };
const nginx = path.resolve(__dirname, "../../../shared/corpus/i2kit-samples/nginx-service.yml");

describe("Service, from the original nginx sample", () => {
  let h: Harness;
  let service: Service;
  beforeEach(async () => {
    h = mockPulumi();
    service = new Service("nginx", { file: nginx, network });
    await h.settle();
  });

  it("parents every child to its component", () => {
    const parentOf = (type: string) => h.all(type).map((r) => r.parent);
    expect(h.find("i2kit:index:Service", "nginx").parent).toBeUndefined();
    for (const type of ["LinuxKitImage", "Ami", "LoadBalancer", "AutoScalingGroup"]) {
      expect(parentOf(`i2kit:index:${type}`)).toEqual(["nginx"]);
    }
    // The container's image and the boot agent's.
    expect(h.all("i2kit:index:ContainerImage").map((r) => [r.name, r.parent])).toEqual([["nginx-nginx", "nginx"], ["nginx-agent", "nginx"]]);
    expect(parentOf("aws:cloudwatch/logGroup:LogGroup")).toEqual(["nginx"]);
    expect(h.all("command:local:Command").map((c) => [c.name, c.parent])).toEqual(expect.arrayContaining([["nginx-ami-upload", "nginx-ami"]]));
    expect(parentOf("aws:autoscaling/group:Group")).toEqual(["nginx-group"]);
    expect(h.find("command:local:Command", "nginx-vm-build").parent).toBe("nginx-vm");
    expect(parentOf("aws:lb/loadBalancer:LoadBalancer")).toEqual(["nginx-lb"]);
    for (const r of h.resources.filter((x) => x.custom)) expect(r.parent, `${r.type} ${r.name}`).toBeDefined();
  });

  it("builds the VM from the rendered config, only when its hash changes", async () => {
    const build = h.find("command:local:Command", /-vm-build$/);
    const hash = await valueOf(service.contentHash);
    expect(build.inputs.triggers).toEqual([hash]);
    expect(build.inputs.stdin).toBe(await valueOf(service.linuxkitConfig));
    expect(String(build.inputs.create)).toMatch(/linuxkit build --format aws --name "test-[0-9a-f]{16}"/);
    expect(String(build.inputs.create)).toMatch(/command -v linuxkit .* \|\| \{ echo "i2kit: linuxkit is not installed: go install/);
    expect(String(build.inputs.create)).toMatch(/command -v docker .* \|\| \{ echo "i2kit: docker is not installed/);
    expect(await valueOf(service.linuxkitConfig)).toMatch(/image: nginx@sha256:[0-9a-f]{64}/);
  });

  it("writes the disk image into a snapshot with the EBS direct APIs and registers the AMI, only when the hash changes", async () => {
    const hash = String(await valueOf(service.contentHash));
    const upload = h.find("command:local:Command", "nginx-ami-upload").inputs;
    expect(upload.create).toMatch(new RegExp(`ami upload '.*/test-${hash.slice(7, 23)}\\.raw' --name 'test' --content-hash '${hash}' --bucket 'nginx-ami-images-id' --incremental --register --arch amd64 --image-name 'test-test-${hash.slice(7, 23)}' --json$`));
    expect(upload.delete).toMatch(/ami delete$/);
    expect(upload.triggers).toEqual([hash]);
    expect(h.all("aws:ebs/snapshotImport:SnapshotImport")).toEqual([]);
    expect(h.find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(h.find("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true },
    ]);
  });

  it("puts an internet-facing ALB in front, open on the listener port only", () => {
    const lb = h.find("aws:lb/loadBalancer:LoadBalancer").inputs;
    expect(lb).toMatchObject({ loadBalancerType: "application", internal: false, subnets: network.publicSubnetIds, dropInvalidHeaderFields: true });
    const sg = h.find("aws:ec2/securityGroup:SecurityGroup", "nginx-lb-sg").inputs;
    expect(sg.ingress).toEqual([{ protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"], description: "listener 80/tcp" }]);
    expect(h.find("aws:lb/targetGroup:TargetGroup").inputs).toMatchObject({ port: 80, protocol: "HTTP", healthCheck: { protocol: "HTTP", path: "/", port: "traffic-port" } });
    expect(h.find("aws:lb/listener:Listener").inputs).toMatchObject({ port: 80, protocol: "HTTP", defaultActions: [{ type: "forward" }] });
  });

  it("runs the AMI's instances with IMDSv2, encrypted disks, no key and only the load balancer let in", () => {
    const lt = h.find("aws:ec2/launchTemplate:LaunchTemplate").inputs;
    expect(lt.imageId).toBe("ami-nginx-ami-upload");
    expect(lt.metadataOptions).toEqual({ httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" });
    expect(lt.blockDeviceMappings).toEqual([{ deviceName: "/dev/sda1", ebs: { volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }]);
    expect(lt.keyName).toBeUndefined();
    const sg = h.find("aws:ec2/securityGroup:SecurityGroup", "nginx-group-sg").inputs;
    expect(sg.ingress).toEqual([{ protocol: "tcp", fromPort: 80, toPort: 80, securityGroups: ["nginx-lb-sg-id"], description: "from the load balancer to 80/tcp" }]);
    // No secrets, no volume: the instance role may only write its own logs.
    const policy = JSON.parse(String(h.find("aws:iam/rolePolicy:RolePolicy").inputs.policy));
    const logGroup = "arn:aws:mock:eu-west-1:123456789012:LogGroup/nginx-logs";
    expect(policy.Statement).toEqual([{ Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [logGroup, `${logGroup}:log-stream:*`] }]);
    expect(lt.userData).toBeUndefined();
  });

  it("rolls out with an instance refresh that keeps full capacity and rolls back", () => {
    const asg = h.find("aws:autoscaling/group:Group").inputs;
    expect(asg).toMatchObject({
      minSize: 1,
      maxSize: 1,
      desiredCapacity: 1,
      healthCheckType: "ELB",
      vpcZoneIdentifiers: network.privateSubnetIds,
      launchTemplate: { id: "nginx-group-lt-id", version: "1" },
      instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 100, maxHealthyPercentage: 200, autoRollback: true } },
    });
    expect(asg.targetGroupArns).toEqual(["arn:aws:mock:eu-west-1:123456789012:TargetGroup/nginx-lb-http-80"]);
    expect(h.all("aws:autoscaling/policy:Policy")).toEqual([]);
  });

  it("exposes the URL, image and group", async () => {
    expect(await valueOf(service.url)).toBe("http://nginx-lb-lb.elb.eu-west-1.amazonaws.com");
    expect(await valueOf(service.imageId)).toBe("ami-nginx-ami-upload");
    expect(await valueOf(service.autoScalingGroupName)).toBe("nginx-group-asg-asg");
  });
});

describe("Service with upload: vm-import", () => {
  it("imports the disk image as an encrypted snapshot through VM Import and registers an IMDSv2-only AMI", async () => {
    const h = mockPulumi();
    const service = new Service("nginx", { file: nginx, network, upload: "vm-import" });
    await h.settle();
    const hash = String(await valueOf(service.contentHash));
    const object = h.find("aws:s3/bucketObjectv2:BucketObjectv2");
    expect(object.inputs.key).toBe(`test/${hash.slice(7, 23)}.raw`);
    expect(h.find("aws:ebs/snapshotImport:SnapshotImport").inputs).toMatchObject({ encrypted: true, diskContainer: { format: "RAW", userBucket: { s3Key: object.inputs.key } } });
    const trust = JSON.parse(String(h.find("aws:iam/role:Role", "nginx-ami-vmimport").inputs.assumeRolePolicy));
    expect(trust.Statement[0]).toMatchObject({ Principal: { Service: "vmie.amazonaws.com" }, Condition: { StringEquals: { "sts:Externalid": "vmimport" } } });
    const ami = h.find("aws:ec2/ami:Ami").inputs;
    expect(ami).toMatchObject({
      virtualizationType: "hvm",
      architecture: "x86_64",
      bootMode: "legacy-bios",
      enaSupport: true,
      imdsSupport: "v2.0",
      rootDeviceName: "/dev/sda1",
      ebsBlockDevices: [{ deviceName: "/dev/sda1", snapshotId: "nginx-ami-snapshot-id", volumeType: "gp3", deleteOnTermination: true }],
    });
    expect(ami.tags).toMatchObject({ "i2kit:service": "test", "i2kit:content-hash": hash, "i2kit:image:nginx": expect.stringMatching(/^nginx@sha256:/) });
    expect(h.find("aws:ec2/launchTemplate:LaunchTemplate").inputs.imageId).toBe("nginx-ami-ami-id");
    expect(h.all("command:local:Command").map((c) => c.name)).toEqual(["nginx-vm-build"]);
  });
});

describe("Service in preview, where computed outputs are unknown", () => {
  it("registers the same resources and leaves what AWS computes unknown", async () => {
    const h = mockPulumi(true);
    const service = new Service("nginx", { file: nginx, network });
    await h.settle();
    expect(h.all("aws:autoscaling/group:Group")).toHaveLength(1);
    expect(h.find("aws:ec2/launchTemplate:LaunchTemplate").inputs.imageId).toEqual(UNKNOWN);
    expect(h.find("aws:autoscaling/group:Group").inputs.launchTemplate).toEqual({ id: UNKNOWN, version: UNKNOWN });
    expect(await valueOf(service.url)).toBe("unknown");
    // The boot agent's image is built at deploy time, so its digest and with it the VM's content hash are not known yet.
    expect(await valueOf(service.contentHash)).toBe("unknown");
    expect(h.find("aws:cloudwatch/logGroup:LogGroup", "nginx-logs").inputs).toMatchObject({ name: "/i2kit/test/test", retentionInDays: 30 });
  });
});

describe("content hash", () => {
  const yaml = (image: string) => `name: web\ncontainers:\n  web:\n    image: ${image}\n    ports: ["tcp:80:tcp:80"]\n`;
  const hashOf = async (image: string) => {
    const h = mockPulumi();
    const s = new Service("web", { yaml: yaml(image), network });
    await h.settle();
    return valueOf(s.contentHash);
  };

  it("is the same for the same spec and changes with the container image", async () => {
    const a = await hashOf("nginx:1.27");
    expect(await hashOf("nginx:1.27")).toBe(a);
    expect(await hashOf("nginx:1.28")).not.toBe(a);
  });
});

describe("a Compose service with a build, secrets and a stateful volume", () => {
  const compose = `services:
  db:
    build: {context: ./db, target: prod, args: {PG: "16"}}
    secrets: [db_password]
    volumes: [data:/var/lib/postgresql/data]
    expose: ["5432"]
    x-i2kit: {stateful: true}
volumes:
  data:
secrets:
  db_password:
    environment: I2KIT_TEST_DB_PASSWORD
`;
  let h: Harness;
  beforeEach(async () => {
    process.env.I2KIT_TEST_DB_PASSWORD = "correct-horse-battery-staple";
    h = mockPulumi();
    new Service("db", { yaml: compose, network });
    await h.settle();
  });

  it("builds the image into its own ECR repository and pins it by digest", () => {
    expect(h.find("aws:ecr/repository:Repository", "db-db-repo").inputs).toMatchObject({ imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } });
    const image = h.find("docker:index/image:Image", "db-db-image").inputs;
    expect(image.build).toMatchObject({ target: "prod", args: { PG: "16" }, platform: "linux/amd64" });
    expect(String((image.build as { context: string }).context)).toMatch(/\/db$/);
    expect(isSecret(image.registry)).toBe(true);
    expect(String(h.find("command:local:Command", /-vm-build$/).inputs.stdin)).toMatch(/image: 123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/app-db-db@sha256:e{64}/);
  });

  it("hands the registry login to linuxkit as a secret, never in clear", () => {
    const build = h.find("command:local:Command", /-vm-build$/).inputs;
    expect(isSecret(build.environment)).toBe(true);
    expect(inClear(h.resources.map((r) => r.inputs))).not.toContain("ecr-token-not-for-logs");
  });

  it("keeps the secret in Secrets Manager, readable by this service's instances alone", () => {
    const secret = h.find("aws:secretsmanager/secret:Secret").inputs;
    expect(secret.name).toBe("i2kit/app/db/db_password");
    expect(isSecret(h.find("aws:secretsmanager/secretVersion:SecretVersion").inputs.secretString)).toBe(true);
    expect(inClear(h.resources.map((r) => r.inputs))).not.toContain("correct-horse-battery-staple");
    const policy = JSON.parse(String(h.find("aws:iam/rolePolicy:RolePolicy", "db-group-policy").inputs.policy));
    expect(policy.Statement[0]).toEqual({ Sid: "ReadOwnSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:mock:eu-west-1:123456789012:Secret/db-secret-db_password"] });
    expect(String(h.find("command:local:Command", /-vm-build$/).inputs.stdin)).toContain("/run/i2kit/secrets/db/db_password:/run/secrets/db_password:ro");
  });

  it("gives the instance role exactly its own secret, log group and volume: no wildcard resource", () => {
    const policy = JSON.parse(String(h.find("aws:iam/rolePolicy:RolePolicy", "db-group-policy").inputs.policy)) as { Statement: { Sid: string; Action: string[]; Resource: string[]; Condition?: unknown }[] };
    const secret = "arn:aws:mock:eu-west-1:123456789012:Secret/db-secret-db_password";
    const logGroup = "arn:aws:mock:eu-west-1:123456789012:LogGroup/db-logs";
    const volume = "arn:aws:mock:eu-west-1:123456789012:Volume/db-group-data";
    expect(policy.Statement.map((st) => [st.Sid, st.Action, st.Resource])).toEqual([
      ["ReadOwnSecrets", ["secretsmanager:GetSecretValue"], [secret]],
      ["WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [logGroup, `${logGroup}:log-stream:*`]],
      ["AttachOwnVolume", ["ec2:AttachVolume"], [volume]],
      ["AttachToOwnInstances", ["ec2:AttachVolume"], ["arn:aws:ec2:eu-west-1:123456789012:instance/*"]],
    ]);
    // Instance ids are only known at launch: that statement is held to this app's and service's instances by their tags.
    expect(policy.Statement[3]?.Condition).toEqual({ StringEquals: { "aws:ResourceTag/i2kit:app": "app", "aws:ResourceTag/i2kit:service": "db" } });
    for (const st of policy.Statement) for (const r of st.Resource) expect(r).not.toBe("*");
    expect(JSON.stringify(policy)).not.toMatch(/Describe|"\*"|:\*:/);
  });

  it("builds the boot agent from its sources into the app's ECR and pins it by digest in the VM", () => {
    const agent = h.find("docker:index/image:Image", "db-agent-image").inputs;
    expect(String((agent.build as { context: string }).context)).toMatch(/\/agent$/);
    expect(agent.build).toMatchObject({ dockerfile: expect.stringMatching(/agent\/Dockerfile$/), platform: "linux/amd64" });
    expect(h.find("aws:ecr/repository:Repository", "db-agent-repo").inputs).toMatchObject({ name: "app-db-i2kit-agent", imageTagMutability: "IMMUTABLE" });
    const config = String(h.find("command:local:Command", /-vm-build$/).inputs.stdin);
    expect(config).toMatch(/name: i2kit-agent\n\s+image: 123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/app-db-i2kit-agent@sha256:e{64}/);
    expect(config).toMatch(/name: i2kit-logs\n\s+image: 123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/app-db-i2kit-agent@sha256:e{64}/);
  });

  it("creates the service's log group with a retention, and hands the volume id to the agent in the user data", () => {
    expect(h.find("aws:cloudwatch/logGroup:LogGroup").inputs).toMatchObject({ name: "/i2kit/app/db", retentionInDays: 30, tags: { "i2kit:app": "app", "i2kit:service": "db" } });
    const userData = String(h.find("aws:ec2/launchTemplate:LaunchTemplate").inputs.userData);
    expect(JSON.parse(Buffer.from(userData, "base64").toString())).toEqual({ i2kit: { volumeId: "db-group-data-id" } });
  });

  it("runs one instance in one zone with its own encrypted volume it alone may attach", () => {
    const volume = h.find("aws:ebs/volume:Volume").inputs;
    expect(volume).toMatchObject({ availabilityZone: "eu-west-1a", encrypted: true, type: "gp3", size: 20, tags: { "i2kit:service": "db", "i2kit:volume": "data" } });
    const asg = h.find("aws:autoscaling/group:Group").inputs;
    expect(asg).toMatchObject({ minSize: 1, maxSize: 1, desiredCapacity: 1, vpcZoneIdentifiers: ["subnet-priv-a"], protectFromScaleIn: true });
    expect(asg.instanceRefresh).toMatchObject({ preferences: { minHealthyPercentage: 0, maxHealthyPercentage: 100 } });
    const policy = JSON.parse(String(h.find("aws:iam/rolePolicy:RolePolicy", "db-group-policy").inputs.policy));
    expect(policy.Statement.find((s: { Sid: string }) => s.Sid === "AttachOwnVolume").Resource).toEqual(["arn:aws:mock:eu-west-1:123456789012:Volume/db-group-data"]);
  });

  it("reaches an exposed-only service through an internal NLB", () => {
    expect(h.find("aws:lb/loadBalancer:LoadBalancer").inputs).toMatchObject({ loadBalancerType: "network", internal: true, subnets: network.privateSubnetIds });
    expect(h.find("aws:ec2/securityGroup:SecurityGroup", "db-lb-sg").inputs.ingress).toEqual([
      { protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.20.0.0/16"], description: "listener 5432/tcp" },
    ]);
  });
});

describe("a customer managed KMS key", () => {
  it("lets the instance role decrypt exactly its own secrets through Secrets Manager, and EC2 attach its volume", async () => {
    process.env.I2KIT_TEST_DB_PASSWORD = "correct-horse-battery-staple";
    const h = mockPulumi();
    const compose = "services:\n  db:\n    image: postgres\n    secrets: [db_password]\n    volumes: [data:/data]\n    x-i2kit: {stateful: true}\nvolumes:\n  data:\nsecrets:\n  db_password:\n    environment: I2KIT_TEST_DB_PASSWORD\n";
    new Service("db", { yaml: compose, network, kmsKeyId: "alias/i2kit" });
    await h.settle();
    const policy = JSON.parse(String(h.find("aws:iam/rolePolicy:RolePolicy", "db-group-policy").inputs.policy)) as { Statement: { Sid: string; Action: string[]; Resource: string[]; Condition?: unknown }[] };
    const key = "arn:aws:kms:eu-west-1:123456789012:key/alias/i2kit"; // the mock's getKey answer for the alias
    const bySid = Object.fromEntries(policy.Statement.map((st) => [st.Sid, st]));
    expect(bySid.DecryptOwnSecrets).toEqual({
      Sid: "DecryptOwnSecrets",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [key],
      Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com", "kms:EncryptionContext:SecretARN": ["arn:aws:mock:eu-west-1:123456789012:Secret/db-secret-db_password"] } },
    });
    expect(bySid.GrantOwnVolumeKeyToEC2).toEqual({ Sid: "GrantOwnVolumeKeyToEC2", Effect: "Allow", Action: ["kms:CreateGrant"], Resource: [key], Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } } });
    for (const st of policy.Statement) for (const r of st.Resource) expect(r).not.toBe("*");
    // Without a key of its own, AWS's managed keys need no statement.
    const plain = mockPulumi();
    new Service("db", { yaml: compose, network });
    await plain.settle();
    expect(String(plain.find("aws:iam/rolePolicy:RolePolicy", "db-group-policy").inputs.policy)).not.toContain("kms:");
  });
});

describe("log group options", () => {
  it("takes the retention and the KMS key given", async () => {
    const h = mockPulumi();
    new Service("web", { yaml: "services:\n  web: {image: nginx}\n", network, logRetentionDays: 365, logKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/logs" });
    await h.settle();
    expect(h.find("aws:cloudwatch/logGroup:LogGroup").inputs).toMatchObject({ retentionInDays: 365, kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/logs" });
  });
});

describe("bad arguments fail before anything is registered", () => {
  it("names what is wrong", async () => {
    const h = mockPulumi();
    expect(() => new Service("x", { network } as never)).toThrow("Service: give exactly one of file, yaml or spec");
    expect(() => new Service("x", { yaml: "name: x\ncontainers: {}\n", network: undefined as never })).toThrow(/give a network .* never uses the default VPC/);
    expect(() => new Service("x", { yaml: "services:\n  a: {image: a}\n  b: {image: b}\n", network })).toThrow('Service: the file has 2 services (a, b); pick one with serviceName');
    expect(() => new Service("x", { yaml: "services:\n  a:\n    image: a\n    secrets: [s]\nsecrets:\n  s: {environment: I2KIT_UNSET_VARIABLE}\n", network })).toThrow("secret s: environment variable I2KIT_UNSET_VARIABLE is not set");
    expect(() => new Service("x", { yaml: "services:\n  a:\n    image: a\n    ports: [\"80:80\", \"53:53/udp\"]\n    x-i2kit: {protocol: http}\n", network })).toThrow(/mixes HTTP\(S\) listeners with UDP:53/);
    expect(() => new Service("x", { yaml: "services:\n  a: {image: a}\n", network, logRetentionDays: 10 })).toThrow(/Service x: logRetentionDays must be one of CloudWatch Logs' periods \(1, 3, 5, 7, 14, 30, .*\), not 10/);
    await h.settle();
    expect(h.resources.filter((r) => r.custom)).toEqual([]);
  });
});
