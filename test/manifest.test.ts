import { describe, expect, it } from "vitest";
import { parseListener } from "../schema/manifest/ports";
import { errorsOf, project } from "./helpers";
import { loadFile } from "../schema/load";
import * as path from "node:path";

const manifest = (text: string) => {
  const dir = project({ "service.yml": text });
  return () => loadFile(path.join(dir, "service.yml"), { env: {} });
};

describe("i2kit port syntax", () => {
  it("follows the original protocol rules", () => {
    const cert = "arn:aws:acm:us-east-1:123456789012:certificate/12ab";
    expect(parseListener("http:80:http:8080")).toEqual({ protocol: "HTTP", port: 80, targetProtocol: "HTTP", targetPort: 8080 });
    expect(parseListener(`HTTPS:443:HTTP:80:${cert}`)).toEqual({ protocol: "HTTPS", port: 443, targetProtocol: "HTTP", targetPort: 80, certificateArn: cert });
    expect(parseListener(`https:443:https:8443:${cert}`)).toMatchObject({ protocol: "HTTPS", targetProtocol: "HTTPS" });
    expect(parseListener("tcp:5432:tcp:5432")).toEqual({ protocol: "TCP", port: 5432, targetProtocol: "TCP", targetPort: 5432 });
    expect(parseListener(`ssl:993:tcp:143:${cert}`)).toMatchObject({ protocol: "TLS", targetProtocol: "TCP" });
    expect(parseListener(`ssl:993:ssl:993:${cert}`)).toMatchObject({ protocol: "TLS", targetProtocol: "TLS" });
  });

  it("refuses what the original refused", () => {
    expect(parseListener("http:80:tcp:80")).toBe("a HTTP listener forwards to HTTP, not TCP");
    expect(parseListener("tcp:80:http:80")).toBe("a TCP listener forwards to TCP, not HTTP");
    expect(parseListener("https:443:http:80")).toBe("a HTTPS listener needs a certificate ARN as its fifth field");
    expect(parseListener("ssl:443:tcp:80")).toBe("a SSL listener needs a certificate ARN as its fifth field");
    expect(parseListener("http:80:http:80:arn:aws:acm:x")).toBe("a HTTP listener takes no certificate");
    expect(parseListener("http:80:http")).toBe('"http:80:http" is not a port (LBPROTO:LBPORT:INSTPROTO:INSTPORT[:CERT_ARN])');
    expect(parseListener("ftp:21:tcp:21")).toBe('"ftp" is not a load balancer protocol (HTTP, HTTPS, TCP, SSL, UDP)');
    expect(parseListener("http:0:http:80")).toBe('"0" is not a port number');
  });
});

describe("i2kit service.yml", () => {
  it("loads the original format with its defaults", () => {
    const { app, format } = manifest(`name: vote
replicas: 3
public: true
instance_type: t3.small
containers:
  vote:
    image: docker/example-voting-app-vote:latest
    command: python app.py --port 80
    environment: [REDIS=redis, "MSG=a=b"]
    ports: ["http:80:http:80"]
`)();
    expect(format).toBe("manifest");
    expect(app.services).toEqual([
      expect.objectContaining({
        name: "vote",
        replicas: 3,
        public: true,
        stateful: false,
        instanceType: "t3.small",
        listeners: [{ protocol: "HTTP", port: 80, targetProtocol: "HTTP", targetPort: 80 }],
        containers: [
          expect.objectContaining({
            name: "vote",
            image: "docker/example-voting-app-vote:latest",
            command: ["python", "app.py", "--port", "80"],
            environment: { REDIS: "redis", MSG: "a=b" },
            ports: [{ port: 80, protocol: "tcp" }],
          }),
        ],
      }),
    ]);
    const minimal = manifest("name: worker\ncontainers:\n  worker:\n    image: worker\n")().app.services[0];
    expect(minimal).toMatchObject({ replicas: 1, stateful: false, public: false, instanceType: "t3.micro", listeners: [] });
  });

  it("reports every error at its line: unknown keys, bad ports, bad environment, stateful replicas", () => {
    const text = `name: db
replicas: 2
stateful: true
color: blue
containers:
  db:
    image: postgres
    environment: [NOVALUE]
    ports: ["tcp:5432:http:5432", "https:443:http:80"]
`;
    expect(errorsOf(manifest(text))).toEqual([
      'service.yml:2:11: replicas: a stateful service runs exactly one replica',
      'service.yml:4:8: color: unknown key "color"',
      "service.yml:8:19: containers.db.environment[0]: must be KEY=VALUE",
    ]);
    const ports = "name: web\ncontainers:\n  web:\n    image: nginx\n    ports: [\"tcp:5432:http:5432\", \"https:443:http:80\"]\n";
    expect(errorsOf(manifest(ports))).toEqual([
      "service.yml:5:13: containers.web.ports[0]: a TCP listener forwards to TCP, not HTTP",
      "service.yml:5:35: containers.web.ports[1]: a HTTPS listener needs a certificate ARN as its fifth field",
    ]);
  });

  it("refuses two containers on one instance port: they share the VM's network", () => {
    const text = "name: pod\ncontainers:\n  a:\n    image: a\n    ports: [\"tcp:80:tcp:8080\"]\n  b:\n    image: b\n    ports: [\"tcp:81:tcp:8080\"]\n";
    expect(errorsOf(manifest(text))).toEqual([
      'service.yml:8:13: containers.b.ports[0]: instance port 8080 is already used by container "a" (containers share the VM\'s network)',
    ]);
  });

  it("refuses a name that cannot be a host name", () => {
    expect(errorsOf(manifest("name: My_Service\ncontainers:\n  a:\n    image: a\n"))).toEqual([
      "service.yml:1:7: name: must be a DNS label: lower-case letters, digits and '-'",
    ]);
  });
});
