import { describe, expect, it } from "vitest";
import { parseDotenv } from "../schema/dotenv";

describe(".env files", () => {
  it("reads KEY=VALUE lines, export prefixes, comments and quotes", () => {
    const text = [
      "# a comment",
      "A=1",
      "export B=two # trailing comment",
      "C='single $A kept'",
      'D="double ${A} \\n escaped"',
      'E="multi',
      'line"',
      "F=",
      "",
    ].join("\n");
    expect(parseDotenv(text, ".env").values).toEqual({
      A: "1",
      B: "two",
      C: "single $A kept",
      D: "double 1 \n escaped",
      E: "multi\nline",
      F: "",
    });
  });

  it("interpolates from earlier lines, then from the environment", () => {
    expect(parseDotenv("A=x\nB=${A}-${HOME_DIR}", ".env", { HOME_DIR: "/h" }).values.B).toBe("x-/h");
  });

  it("reports bad names and unterminated quotes with their line", () => {
    const { diagnostics } = parseDotenv("OK=1\n1BAD=2\nQ='open", "vars.env");
    expect(diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`)).toEqual([
      'vars.env:2: "1BAD" is not a valid variable name',
      "vars.env:3: unterminated single-quoted value",
    ]);
  });
});
