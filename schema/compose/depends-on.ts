// `depends_on` (list or map with conditions): the App deploys a service after
// the services it depends on, and waits for them to be healthy when asked.
import { describe, type ServiceContext } from "./context";

type Condition = "service_started" | "service_healthy" | "service_completed_successfully";
const CONDITIONS: readonly Condition[] = ["service_started", "service_healthy", "service_completed_successfully"];

export function transformDependsOn(value: unknown, services: ReadonlySet<string>, ctx: ServiceContext): { service: string; condition: Condition }[] {
  if (value === undefined) return [];
  const at = [...ctx.path, "depends_on"];
  const out: { service: string; condition: Condition }[] = [];
  const add = (service: string, condition: Condition, where: (string | number)[]) => {
    if (!services.has(service)) ctx.report.error(where, `depends on unknown service "${service}"`);
    else if (service === ctx.serviceName) ctx.report.error(where, "a service cannot depend on itself");
    else out.push({ service, condition });
  };
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      if (typeof entry === "string") add(entry, "service_started", [...at, i]);
      else ctx.report.error([...at, i], `${describe(entry)} is not a service name`);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [service, options] of Object.entries(value)) {
      const o = (options ?? {}) as Record<string, unknown>;
      const condition = (o.condition ?? "service_started") as Condition;
      if (!CONDITIONS.includes(condition)) {
        ctx.report.error([...at, service, "condition"], `${describe(o.condition)} is not a condition (${CONDITIONS.join(", ")})`);
        continue;
      }
      if (o.required === false || o.required === "false") {
        // An optional dependency is only an ordering hint; it may be absent.
        if (services.has(service)) out.push({ service, condition });
        continue;
      }
      add(service, condition, [...at, service]);
    }
  } else {
    ctx.report.error(at, `must be a list or a mapping, not ${describe(value)}`);
  }
  return out;
}
