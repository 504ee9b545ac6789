/**
 * Where MSE key material and pads come from.
 *
 * **When to use**
 *
 * Leave it alone in production: the default draws from the platform's cryptographically
 * secure generator (Effect's `Random` is `Math.random` unless replaced, and a guessable
 * private exponent would let an observer decrypt the stream). The simulator replaces it
 * with `seededEntropy`, so a seeded run stays reproducible.
 *
 * **Example**
 *
 * ```ts
 * program.pipe(Effect.provideService(MseEntropy, seededEntropy))
 * ```
 */
import { Context, Effect, Random } from "effect"

export type Entropy = (size: number) => Effect.Effect<Uint8Array>

const secure: Entropy = (size) => Effect.sync(() => globalThis.crypto.getRandomValues(new Uint8Array(size)))

export const MseEntropy = Context.Reference<Entropy>("effect-torrent/MseEntropy", { defaultValue: () => secure })

/** Bytes from Effect's `Random` (seeded in a simulation). Not secret: for simulations and tests only. */
export const seededEntropy: Entropy = (size) =>
  Effect.map(Random.Random, (random) => {
    const out = new Uint8Array(size)
    for (let i = 0; i < size; i++) out[i] = Math.floor(random.nextDoubleUnsafe() * 256)
    return out
  })
