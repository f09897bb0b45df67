// Load + render time of every file of the corpus (median of several runs per
// file, after a warm-up).
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { renderApp } from "../components/linuxkit/render";
import { ConversionError } from "../schema/diagnostics";
import { asProject, composeFiles, loadCorpusFile, manifestFiles } from "../test/corpus";

const RUNS = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function timeLoadAndRender(file: string): { ms: number; services: number; outcome: string } {
  const times: number[] = [];
  let services = 0;
  let outcome = "converted";
  for (let i = 0; i < RUNS + 2; i++) {
    const start = performance.now();
    try {
      const { app } = loadCorpusFile(file);
      services = renderApp(app).length;
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      outcome = "unsupported";
    }
    if (i >= 2) times.push(performance.now() - start);
  }
  return { ms: median(times), services, outcome };
}

export function benchCorpus(): void {
const files = [...composeFiles, ...manifestFiles];
console.log(`load + render, median of ${RUNS} runs per file (Node ${process.version}, ${os.cpus().length} CPUs)`);
let total = 0;
for (const file of files) {
  const r = timeLoadAndRender(asProject(file));
  total += r.ms;
  console.log(`  ${path.basename(file).padEnd(40)} ${r.ms.toFixed(2).padStart(7)} ms  ${String(r.services).padStart(2)} services  ${r.outcome}`);
}
console.log(`corpus total (${files.length} files): ${total.toFixed(1)} ms`);
}
