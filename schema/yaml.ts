// Parse YAML keeping source positions, so every later stage can point at the
// line and column of a path. The `yaml` package is used rather than js-yaml
// because it keeps a node tree with ranges and resolves `<<` merge keys.
import {
  Document,
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Node as YamlNode,
} from "yaml";
import { ConversionError, type Diagnostic, type DocPath, type Locator, type Position } from "./diagnostics";

export interface SourceDocument extends Locator {
  /** The document as plain data: maps are objects, sequences arrays. */
  readonly value: unknown;
}

const MERGE_KEY = "<<";

/** Parses one YAML document; throws a ConversionError with every syntax error at its line and column. */
export function parseYaml(text: string, file: string): SourceDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  const toPosition = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const errors: Diagnostic[] = doc.errors.map((e) => ({
    severity: "error",
    file,
    ...toPosition(e.pos[0]),
    path: "",
    message: `YAML syntax error: ${firstLine(e.message)}`,
  }));
  if (errors.length > 0) throw new ConversionError(errors);

  let value: unknown;
  try {
    // A bounded alias count stops "billion laughs" documents.
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConversionError([
      { severity: "error", file, line: 1, col: 1, path: "", message: `YAML error: ${(e as Error).message}` },
    ]);
  }
  return {
    file,
    value,
    locate: (path: DocPath) => toPosition(offsetOf(doc, path)),
  };
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** The offset of the deepest node of `path` that exists in the document. */
function offsetOf(doc: Document, path: DocPath): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of path) {
    const next = child(doc, node, segment);
    if (next === undefined) break;
    offset = next.offset;
    node = next.node;
  }
  return offset;
}

interface Located {
  node: unknown;
  offset: number;
}

function child(doc: Document, node: unknown, segment: string | number): Located | undefined {
  const target = resolveAlias(doc, node);
  if (isSeq(target) && typeof segment === "number") {
    const item = target.items[segment];
    const start = rangeStart(item);
    return start === undefined ? undefined : { node: item, offset: start };
  }
  if (isMap(target)) {
    for (const pair of target.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (key !== undefined && String(key) === String(segment)) {
        // Point at the value; at the key when the value is empty.
        const start = rangeStart(pair.value) ?? rangeStart(pair.key);
        return start === undefined ? undefined : { node: pair.value, offset: start };
      }
    }
    // A key inherited through `<<: *anchor` stands where the anchor defines it.
    for (const pair of target.items) {
      if (!isPair(pair) || !isMergeKey(pair.key)) continue;
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        const found = child(doc, source, segment);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  return key.value === MERGE_KEY || String(key.value) === "Symbol(<<)" || key.source === MERGE_KEY;
}

function resolveAlias(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range;
  return range ? range[0] : undefined;
}
