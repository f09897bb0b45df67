// i2kit: the input model (schema/) and the LinuxKit renderer (components/linuxkit/).
export * from "./schema";
export * from "./components/linuxkit";
