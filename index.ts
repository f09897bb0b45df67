// i2kit: the input model (schema/), the LinuxKit renderer (components/linuxkit/)
// and the Pulumi components that deploy it.
export * from "./schema";
export * from "./components/linuxkit";
export { ContainerImage, type ContainerImageArgs, type RegistryAuth } from "./components/container-image";
export { LinuxKitImage, type LinuxKitImageArgs } from "./components/linuxkit-image";
export { Ami, type AmiArgs } from "./components/ami";
export { LoadBalancer, type LoadBalancerArgs } from "./components/load-balancer";
export { AutoScalingGroup, type AutoScalingGroupArgs } from "./components/auto-scaling-group";
export { Network, type NetworkArgs, type NetworkRefs } from "./components/network";
export { Service, type ServiceArgs, type ServiceOptions, type ServiceSource } from "./components/service";
export { App, type AppArgs } from "./components/app";
export { architectureOf, type Architecture } from "./components/architecture";
