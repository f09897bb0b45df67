// Runs Pulumi programs in-process under the SDK's mock monitor and records
// every registration: its type, name, parent, dependencies and inputs. This
// is how `i2kit plan` sees what `pulumi preview` would register, with no CLI,
// no cloud and no credentials.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";

export interface Registration {
  type: string;
  name: string;
  /** Name of the parent resource; undefined at the root. */
  parent: string | undefined;
  /** Names of the resources it depends on. */
  dependsOn: string[];
  inputs: Record<string, unknown>;
  custom: boolean;
}

/** An invoke result that stays unknown, as a data source does in an offline preview. */
export const UNKNOWN_RESULT = unknownValue;

export interface RecordingOptions {
  preview: boolean;
  /** Outputs the provider would compute (normal mode only). */
  computed?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown>;
  /** Results of data-source calls. */
  invoke?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown>;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
}

type Listener = (req: RegisterRequest) => void;
let listener: Listener | undefined;
let patched = false;

/** The mock monitor hands the mocks no parent or dependencies; catch them on the way in, once. */
function patchMonitor(): void {
  if (patched) return;
  patched = true;
  const original = MockMonitor.prototype.registerResource as (this: MockMonitor, req: unknown, callback: unknown) => Promise<void>;
  MockMonitor.prototype.registerResource = function (this: MockMonitor, req: RegisterRequest, callback: unknown) {
    listener?.(req);
    return original.call(this, req, callback);
  } as typeof MockMonitor.prototype.registerResource;
}

const nameOf = (urn: string) => urn.split("::").pop() as string;

/** Installs the mocks and returns the list that fills as the program registers resources. */
export function startRecording(options: RecordingOptions): Registration[] {
  patchMonitor();
  const registrations: Registration[] = [];
  const links = new Map<string, { parent: string | undefined; dependsOn: string[] }>();
  listener = (req) => {
    const parent = req.getParent();
    links.set(`${req.getType()}::${req.getName()}`, { parent: parent ? nameOf(parent) : undefined, dependsOn: req.getDependenciesList().map(nameOf) });
  };
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const link = links.get(`${args.type}::${args.name}`);
        registrations.push({ type: args.type, name: args.name, parent: link?.parent, dependsOn: link?.dependsOn ?? [], inputs, custom: args.custom ?? false });
        const state = options.preview ? inputs : { ...inputs, ...options.computed?.(args.type, args.name, inputs) };
        return { id: options.preview ? "" : `${args.name}-id`, state };
      },
      call(args) {
        return options.invoke?.(args.token, args.inputs as Record<string, unknown>) ?? {};
      },
    },
    "i2kit",
    "plan",
    options.preview,
  );
  return registrations;
}

/** Waits until registrations stop arriving: the program has registered everything. */
export async function settle(registrations: readonly Registration[]): Promise<void> {
  for (;;) {
    let last = -1;
    let stable = 0;
    while (stable < 20) {
      await new Promise((resolve) => setImmediate(resolve));
      stable = registrations.length === last ? stable + 1 : 0;
      last = registrations.length;
    }
    // Quiet across the event loop's turns; make sure no timer is about to add more.
    const before = registrations.length;
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (registrations.length === before) return;
  }
}
