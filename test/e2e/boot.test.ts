// The proof: a Compose file rendered by i2kit, built by the real linuxkit
// CLI from the offline cache, boots in QEMU and serves its containers.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runService, type RunResult } from "../../cli/run/run";
import { buildAppImage, offlineLinuxKit, type OfflineLinuxKit } from "./harness";

const COMPOSE = `services:
  web:
    image: i2kit-test/web:1
    environment:
      GREETING: hello-from-compose
    ports: ["8080:8080"]
    volumes:
      - ./site/index.html:/www/index.html:ro
    read_only: true
    x-i2kit: {protocol: http}

  echo:
    image: i2kit-test/echo:1
    ports: ["7000:7000"]

  caps:
    image: i2kit-test/web:1
    cap_drop: [NET_BIND_SERVICE]
    tmpfs: [/tmp]
    # Try port 80 without NET_BIND_SERVICE, then report how that went on 8081.
    entrypoint: ["sh", "-c", "mkdir -p /tmp/r; httpd -f -p 80 -h /www; echo \\"bind 80: exit $?\\" > /tmp/r/result; exec httpd -f -p 8081 -h /tmp/r"]
    ports: ["8081:8081"]
    x-i2kit: {protocol: http}
`;

async function get(url: string): Promise<string> {
  const r = await fetch(url);
  return `${r.status} ${await r.text()}`;
}

/** busybox `nc -ll` listens again after each connection: a connect in that gap is reset, so try a few times. */
async function echo(port: number, text: string): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      return await echoOnce(port, text);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw last;
}

function echoOnce(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let got = "";
    socket.on("data", (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`connection closed after ${JSON.stringify(got)}`)));
    socket.setTimeout(10_000, () => reject(new Error("no echo within 10 s")));
  });
}

describe("a rendered VM really boots and serves (linuxkit + QEMU, offline)", () => {
  let lk: OfflineLinuxKit;
  let dir: string;
  const running: RunResult[] = [];
  const keepLogs = path.join(os.tmpdir(), "i2kit-e2e-serial-logs");

  beforeAll(() => {
    lk = offlineLinuxKit();
    buildAppImage(lk, {
      name: "i2kit-test/web:1",
      files: {
        "www/cgi-bin/hello": { contents: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "greeting=$GREETING"\n', mode: 0o755 },
        "www/cgi-bin/rootfs": { contents: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nif touch /probe 2>/dev/null; then echo writable; else echo read-only; fi\n', mode: 0o755 },
        "www/index.html": { contents: "the image's own page\n" },
      },
      entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"],
    });
    buildAppImage(lk, { name: "i2kit-test/echo:1", files: {}, entrypoint: ["/bin/nc", "-ll", "-p", "7000", "-e", "/bin/cat"] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-e2e-"));
    fs.mkdirSync(path.join(dir, "site"));
    fs.writeFileSync(path.join(dir, "site/index.html"), "baked into the VM by i2kit\n");
    fs.writeFileSync(path.join(dir, "compose.yaml"), COMPOSE);
  }, 1_800_000);

  afterAll(async () => {
    for (const r of running) await r.vm.stop();
  });

  const boot = async (service: string) => {
    try {
      const r = await runService(path.join(dir, "compose.yaml"), { service, linuxkit: lk.linuxkit, linuxkitCache: lk.cache, accelerator: "tcg", memoryMb: 256, timeoutMs: 240_000 });
      running.push(r);
      return r;
    } catch (e) {
      // Keep the serial log of a VM that did not come up.
      fs.mkdirSync(keepLogs, { recursive: true });
      const log = /serial log: (\S+)\)/.exec(String(e))?.[1];
      if (log && fs.existsSync(log)) fs.copyFileSync(log, path.join(keepLogs, `${service}.log`));
      throw e;
    }
  };

  it("serves the env value and the baked file over HTTP, from a read-only root", async () => {
    const web = await boot("web");
    const url = web.urls[0]?.url as string;
    expect(await get(`${url}/cgi-bin/hello`)).toBe("200 greeting=hello-from-compose\n");
    expect(await get(`${url}/`)).toBe("200 baked into the VM by i2kit\n");
    expect(await get(`${url}/cgi-bin/rootfs`)).toBe("200 read-only\n");
  }, 300_000);

  it("answers on the TCP service", async () => {
    const r = await boot("echo");
    const port = Number(new URL(r.urls[0]?.url as string).port);
    expect(await echo(port, "ping over the VM\n")).toBe("ping over the VM\n");
  }, 300_000);

  it("really drops a capability: without NET_BIND_SERVICE, port 80 cannot be bound", async () => {
    const r = await boot("caps");
    expect(await get(`${r.urls[0]?.url as string}/result`)).toBe("200 bind 80: exit 1\n");
  }, 300_000);

  it("shuts the VM down when asked", async () => {
    const r = running[0];
    if (!r) throw new Error("no VM ran");
    await r.vm.stop();
    expect(r.vm.process.exitCode !== null || r.vm.process.signalCode !== null).toBe(true);
  });
});
