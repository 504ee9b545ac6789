/** Every fuzz target, in the order the report lists them. */
import type { FuzzTarget } from "./fuzz.ts"
import { httpTrackerTarget, krpcTarget, mseResponderTarget, udpTrackerTarget, utpTarget } from "./fuzz-targets-net.ts"
import {
  bencodeTarget,
  extendedTarget,
  magnetTarget,
  metainfoTarget,
  utMetadataTarget,
  utPexTarget,
  wireFrameTarget,
  wireStreamTarget
} from "./fuzz-targets.ts"

export const FUZZ_TARGETS: ReadonlyArray<FuzzTarget> = [
  bencodeTarget,
  metainfoTarget,
  magnetTarget,
  wireFrameTarget,
  wireStreamTarget,
  extendedTarget,
  utMetadataTarget,
  utPexTarget,
  krpcTarget,
  httpTrackerTarget,
  udpTrackerTarget,
  mseResponderTarget,
  utpTarget
]
