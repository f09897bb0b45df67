export * from "./model";
export * from "./images";
export * from "./capabilities";
export * from "./render";
export * from "./agent";
