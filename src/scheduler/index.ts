export {
  type Block,
  BLOCK_SIZE,
  blockLength,
  blocksInPiece,
  type FileSpan,
  hasBit,
  makeBitfield,
  pieceBlocks,
  pieceSize,
  wantedPiecesFromFiles
} from "./geometry.ts"
export type { FailedResult, ReceiveResult, VerifiedResult } from "./events.ts"
export { makePicker, type Picker, type PickerConfig } from "./picker.ts"
