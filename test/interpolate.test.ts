import { describe, expect, it } from "vitest";
import { interpolateString } from "../schema/interpolate";

const env = { NAME: "web", EMPTY: "", PORT: "8080" };
const value = (s: string) => interpolateString(s, env).value;

describe("Compose variable interpolation", () => {
  it("substitutes $VAR and ${VAR}", () => {
    expect(value("$NAME-${PORT}")).toBe("web-8080");
  });

  it("keeps a literal dollar written $$", () => {
    expect(value("$$HOME and $${NAME}")).toBe("$HOME and ${NAME}");
  });

  it("uses :- defaults when unset or empty, - defaults only when unset", () => {
    expect(value("${MISSING:-a}|${EMPTY:-b}|${NAME:-c}")).toBe("a|b|web");
    expect(value("${MISSING-a}|${EMPTY-b}")).toBe("a|");
  });

  it("uses :+ and + alternatives", () => {
    expect(value("${NAME:+set}|${EMPTY:+set}|${EMPTY+set}|${MISSING+set}")).toBe("set||set|");
  });

  it("nests defaults and evaluates them lazily", () => {
    expect(value("${MISSING:-${OTHER:-${PORT}}}")).toBe("8080");
    const r = interpolateString("${NAME:-${NOT_SET}}", env);
    expect(r.issues).toEqual([]);
  });

  it("reports :? and ? as errors with their message", () => {
    expect(interpolateString("${EMPTY:?must be set}", env).issues).toEqual([
      { severity: "error", message: "required variable EMPTY is missing a value: must be set" },
    ]);
    expect(interpolateString("${EMPTY?must be set}", env).issues).toEqual([]);
    expect(interpolateString("${MISSING?gone}", env).issues[0]?.message).toBe("required variable MISSING is not set: gone");
  });

  it("warns about an unset variable and substitutes an empty string", () => {
    const r = interpolateString("a${MISSING}b", env);
    expect(r.value).toBe("ab");
    expect(r.issues).toEqual([{ severity: "warning", message: "variable MISSING is not set; substituting an empty string" }]);
  });

  it("rejects malformed braces", () => {
    expect(interpolateString("${NAME", env).issues[0]?.severity).toBe("error");
    expect(interpolateString("${1BAD}", env).issues[0]?.message).toMatch(/invalid interpolation format/);
    expect(interpolateString("${NAME!x}", env).issues[0]?.message).toMatch(/invalid interpolation format/);
  });

  it("leaves a lone dollar alone", () => {
    expect(value("costs $ 5")).toBe("costs $ 5");
  });
});
