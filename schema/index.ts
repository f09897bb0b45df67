export * from "./diagnostics";
export * from "./spec";
export { loadFile, loadText, defineApp, type LoadOptions, type LoadResult, type InputFormat } from "./load";
export { parsePortMapping } from "./compose/ports";
export { parseListener } from "./manifest/ports";
export { interpolateString, type Environment } from "./interpolate";
export { parseDotenv } from "./dotenv";
