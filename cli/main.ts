#!/usr/bin/env node
// The `i2kit` command. Exit codes: 0 done, 1 the input has errors,
// 2 the command line itself is wrong.
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { renderApp } from "../components/linuxkit/render";
import { ConversionError, formatDiagnostic, type Diagnostic } from "../schema/diagnostics";
import { loadFile, type LoadOptions, type LoadResult } from "../schema/load";
import { addAmiCommands, type Io } from "./ami";
import type { Plan } from "./plan/plan";

const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  ...(process.stderr.isTTY ? { status: (line: string) => process.stderr.write(`\r\x1b[2K${line}`) } : {}),
};

interface InputFlags {
  profile?: string[];
  projectName?: string;
}

/** Runs the CLI on `argv` (without `node` and the script) and resolves to the exit code. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name("i2kit")
    .description("Containers in, production VMs out: turn Compose files and i2kit manifests into LinuxKit VMs.")
    .showHelpAfterError("(run i2kit --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const inputOptions = (cmd: Command) =>
    cmd
      .option("--profile <name...>", "activate Compose profiles (default: COMPOSE_PROFILES)")
      .option("--project-name <name>", "app name (default: the Compose name, or the directory's)");

  inputOptions(
    program
      .command("validate")
      .description("check Compose files or i2kit manifests; warnings go to stderr")
      .argument("<file...>", "compose.yaml or service.yml files"),
  ).action((files: string[], flags: InputFlags) => {
    for (const file of files) {
      const result = load(file, flags, io);
      if (!result) {
        exitCode = 1;
        continue;
      }
      const count = result.app.services.length;
      io.out(`${file}: valid ${result.format === "compose" ? "Compose file" : "i2kit manifest"}, ${count} service${count === 1 ? "" : "s"}`);
    }
  });

  inputOptions(
    program
      .command("render")
      .description("write the LinuxKit config of each service to DIR/<service>.linuxkit.yml")
      .argument("<file>", "compose.yaml or service.yml")
      .requiredOption("-o, --out <dir>", "output directory")
      .option("-s, --service <name...>", "render only these services"),
  ).action((file: string, flags: InputFlags & { out: string; service?: string[] }) => {
    const result = load(file, flags, io);
    if (!result) {
      exitCode = 1;
      return;
    }
    const known = result.app.services.map((s) => s.name);
    const unknown = (flags.service ?? []).filter((s) => !known.includes(s));
    if (unknown.length > 0) {
      io.err(`i2kit: ${file} has no service ${unknown.join(", ")} (it has ${known.join(", ")})`);
      exitCode = 2;
      return;
    }
    const services = flags.service ? result.app.services.filter((s) => flags.service?.includes(s.name)) : result.app.services;
    // Render everything before writing anything, then write each file atomically.
    const rendered = renderApp({ name: result.app.name, services });
    for (const r of rendered) for (const w of r.warnings) io.err(`warning: ${r.service}: ${w}`);
    fs.mkdirSync(flags.out, { recursive: true });
    for (const r of rendered) {
      const target = path.join(flags.out, `${r.service}.linuxkit.yml`);
      writeAtomically(target, r.yaml);
      io.out(`wrote ${target} (${r.contentHash})`);
    }
  });

  inputOptions(
    program
      .command("plan")
      .description("show what pulumi up would create, offline: no Pulumi CLI, no cloud calls, no credentials")
      .argument("<file>", "compose.yaml or service.yml")
      .option("--json", "print the plan as JSON")
      .option("-o, --out <dir>", "also write the rendered LinuxKit configs to DIR")
      .option("--diagram <file>", "write an architecture diagram: Mermaid source, or SVG when FILE ends in .svg"),
  ).action(async (file: string, flags: InputFlags & { json?: boolean; out?: string; diagram?: string }) => {
    if (!fs.existsSync(file)) {
      io.err(`i2kit: ${file}: no such file`);
      exitCode = 1;
      return;
    }
    // Loaded here: the Pulumi SDK takes most of a second to load, and only plan needs it.
    const { planFile } = await import("./plan/plan.js");
    const { renderJson, renderText } = await import("./plan/present.js");
    const { renderMermaid, renderSvg } = await import("./plan/diagram.js");
    let plan: Plan;
    try {
      plan = await planFile(file, { load: loadOptions(flags) });
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      printAll(e.diagnostics, io);
      io.err(`${file}: ${e.errors.length} error${e.errors.length === 1 ? "" : "s"}`);
      exitCode = 1;
      return;
    }
    if (flags.out) {
      fs.mkdirSync(flags.out, { recursive: true });
      for (const c of plan.configs) writeAtomically(path.join(flags.out, `${c.service}.linuxkit.yml`), c.yaml);
    }
    if (flags.diagram) {
      fs.mkdirSync(path.dirname(path.resolve(flags.diagram)), { recursive: true });
      writeAtomically(flags.diagram, flags.diagram.endsWith(".svg") ? renderSvg(plan) : renderMermaid(plan));
    }
    io.out(flags.json ? renderJson(plan) : renderText(plan));
    if (!flags.json) {
      if (flags.out) io.out(`\nwrote ${plan.configs.length} LinuxKit config${plan.configs.length === 1 ? "" : "s"} to ${flags.out}`);
      if (flags.diagram) io.out(`wrote the diagram to ${flags.diagram}`);
    }
  });

  inputOptions(
    program
      .command("run")
      .description("build a service's VM with linuxkit (kernel+initrd) and boot it with QEMU, its published ports on 127.0.0.1; Ctrl-C stops it")
      .argument("<file>", "compose.yaml or service.yml")
      .option("-s, --service <name>", "the service to run (default: the only one)")
      .option("--accel <accel>", "kvm, tcg, or auto (KVM when it works, else emulation)", "auto")
      .option("--memory <mb>", "guest memory in MiB", "512")
      .option("--timeout <seconds>", "how long to wait for the ports to answer", "300"),
  ).action(async (file: string, flags: InputFlags & { service?: string; accel: string; memory: string; timeout: string }) => {
    if (!fs.existsSync(file)) {
      io.err(`i2kit: ${file}: no such file`);
      exitCode = 1;
      return;
    }
    if (!["kvm", "tcg", "auto"].includes(flags.accel)) {
      io.err(`i2kit: --accel is kvm, tcg or auto, not ${flags.accel}`);
      exitCode = 2;
      return;
    }
    const { runService } = await import("./run/run.js");
    let result: Awaited<ReturnType<typeof runService>>;
    try {
      result = await runService(file, {
        load: loadOptions(flags),
        ...(flags.service ? { service: flags.service } : {}),
        accelerator: flags.accel as "kvm" | "tcg" | "auto",
        memoryMb: Number(flags.memory),
        timeoutMs: Number(flags.timeout) * 1000,
      });
    } catch (e) {
      if (e instanceof ConversionError) printAll(e.diagnostics, io);
      else io.err(`i2kit: ${(e as Error).message}`);
      exitCode = 1;
      return;
    }
    io.out(`${result.service.name} is up (${result.vm.accelerator}), ready ${result.vm.bootToReadySeconds.toFixed(1)} s after boot; initrd ${(result.image.initrdBytes / 1024 / 1024).toFixed(1)} MB`);
    for (const u of result.urls) io.out(`  ${u.listener} → ${u.url}`);
    io.out(`serial log: ${result.vm.serialLog}; Ctrl-C stops the VM`);
    await new Promise<void>((resolve) => {
      const stop = () => void result.vm.stop().then(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      result.vm.process.once("exit", () => resolve());
    });
    io.out("stopped");
  });

  addAmiCommands(program, io, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 2;
    }
    throw e;
  }
  return exitCode;
}

function loadOptions(flags: InputFlags): LoadOptions {
  const options: LoadOptions = {};
  if (flags.profile) options.profiles = flags.profile;
  if (flags.projectName) options.projectName = flags.projectName;
  return options;
}

function load(file: string, flags: InputFlags, io: Io): LoadResult | undefined {
  const options = loadOptions(flags);
  if (!fs.existsSync(file)) {
    io.err(`i2kit: ${file}: no such file`);
    return undefined;
  }
  try {
    const result = loadFile(file, options);
    printAll(result.warnings, io);
    return result;
  } catch (e) {
    if (!(e instanceof ConversionError)) throw e;
    printAll(e.diagnostics, io);
    const errors = e.errors.length;
    io.err(`${file}: ${errors} error${errors === 1 ? "" : "s"}`);
    return undefined;
  }
}

function printAll(diagnostics: readonly Diagnostic[], io: Io): void {
  for (const d of diagnostics) io.err(formatDiagnostic(d));
}

function writeAtomically(target: string, contents: string): void {
  const temporary = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, target);
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`i2kit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(70);
    },
  );
}
