export {
  choke,
  type ChokeConfig,
  type ChokeInput,
  type ChokePeer,
  type ChokeResult,
  defaultChokeConfig,
  isSnubbed,
  type SnubInput
} from "./choke.ts"
export { type ChokerHooks, runChoker, type RunChokerOptions } from "./run.ts"
