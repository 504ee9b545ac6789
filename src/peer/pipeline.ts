/**
 * Request-pipeline depth from the bandwidth-delay product.
 *
 * To keep a link busy we need `rate × latency` bytes in flight. Like libtorrent's
 * `request_queue_time`, we aim to keep `queueSeconds` worth of the peer's measured
 * rate queued, in 16 KiB blocks, within [min, max]; `max` is the peer's advertised
 * `reqq` (BEP 10) capped by our own limit. A fresh peer (rate 0) starts at `min` and
 * grows as blocks arrive, which is slow start in effect.
 */
export interface PipelineLimits {
  readonly min: number
  readonly max: number
  readonly queueSeconds: number
  readonly blockSize: number
}

export const DEFAULT_PIPELINE: PipelineLimits = { min: 4, max: 500, queueSeconds: 3, blockSize: 16 * 1024 }

export const pipelineDepth = (bytesPerSecond: number, limits: PipelineLimits = DEFAULT_PIPELINE): number => {
  const wanted = Math.ceil((bytesPerSecond * limits.queueSeconds) / limits.blockSize)
  return Math.max(limits.min, Math.min(limits.max, wanted))
}
