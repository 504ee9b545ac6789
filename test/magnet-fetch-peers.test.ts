/**
 * fetchMetadata against scripted metadata peers on node:net (127.0.0.1): liars, silent
 * peers, peers announcing absurd sizes, and honest ones. The peers speak through our own
 * src/wire codec, so a codec bug shows up as a failed handshake, never as a silent pass.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Result } from "effect"
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import { encode } from "../src/bencode/index.ts"
import { fetchMetadata, MagnetFetchError } from "../src/magnet/index.ts"
import { classifyOpening } from "../src/mse/index.ts"
import { sha1, sha256 } from "../src/bytes.ts"
import { formatMagnet, type Magnet, parseInfoDict } from "../src/metainfo/index.ts"
import { NodeNetwork } from "../src/net/index.ts"
import type { PeerSource } from "../src/torrent/index.ts"
import {
  decodeExtendedHandshake,
  decodeFrame,
  decodeUtMetadata,
  encodeHandshake,
  encodeMessage,
  encodeUtMetadata,
  extendedHandshakeMessage,
  makeFramer,
  makePeerId,
  makeReserved,
  METADATA_PIECE_SIZE
} from "../src/wire/index.ts"
import { waitUntil } from "./support/waiting.ts"

/** `lieOnce`: the first answer is forged, later requests are never answered. */
type Behaviour = "honest" | "liar" | "lieOnce" | "silent" | "reject"

interface MetadataPeerOptions {
  readonly infoHash: Uint8Array
  readonly metadata: Uint8Array
  readonly behaviour: Behaviour
  /** metadata_size in the extended handshake; default the real size. */
  readonly announcedSize?: number
  /** Set the BEP 10 bit in the handshake; default true. */
  readonly extensionBit?: boolean
}

interface MetadataPeer {
  readonly address: string
  readonly port: number
  /** Connections that opened with a plaintext BitTorrent handshake. */
  readonly connections: () => number
  /** MSE openings, which this plaintext-only peer closes at once. */
  readonly refusedEncrypted: () => number
  /** Metadata pieces the client asked for, in order. */
  readonly requests: () => ReadonlyArray<number>
  /** Data messages sent. */
  readonly served: () => number
  /** Connections that ended without us closing them. */
  readonly closedByClient: () => number
  readonly open: () => number
  readonly errors: () => ReadonlyArray<string>
}

const PEER_UT_METADATA_ID = 7

/**
 * A BEP 9 peer that has the metadata and answers per `behaviour`. It speaks plaintext only
 * and, like a real plaintext-only peer (and test/support/scripted-peer.ts), closes a
 * connection whose first bytes are not a BitTorrent handshake (an MSE opening) at once.
 */
const metadataPeer = (options: MetadataPeerOptions) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Net.Server; sockets: Set<Net.Socket>; peer: MetadataPeer }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const requests: Array<number> = []
      const errors: Array<string> = []
      let connections = 0
      let refusedEncrypted = 0
      let served = 0
      let closedByClient = 0
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        const framer = makeFramer()
        let opening: Uint8Array | undefined = new Uint8Array(0)
        let handshaken = false
        let theirId = 0
        const send = (bytes: Uint8Array) => socket.write(bytes)
        socket.on("error", () => undefined)
        socket.on("close", () => {
          if (sockets.delete(socket)) closedByClient++
        })
        socket.on("data", (chunk) => {
          let bytes = new Uint8Array(chunk)
          if (opening !== undefined) {
            // the first 20 bytes tell a handshake from an MSE opening, which is refused
            bytes = opening.length === 0 ? bytes : Buffer.concat([opening, bytes])
            const kind = classifyOpening(bytes)
            if (kind === "undecided") {
              opening = bytes
              return
            }
            if (kind === "mse") {
              refusedEncrypted++
              sockets.delete(socket) // our close, not the client's
              socket.destroy()
              return
            }
            opening = undefined
            connections++
          }
          framer.push(bytes)
          if (!handshaken) {
            const hs = framer.takeHandshake()
            if (Result.isFailure(hs)) return errors.push(hs.failure.message)
            if (hs.success === undefined) return
            handshaken = true
            send(encodeHandshake({
              infoHash: options.infoHash,
              peerId: randomBytes(20),
              reserved: makeReserved({ extensionProtocol: options.extensionBit ?? true })
            }))
            send(encodeMessage({ _tag: "Bitfield", bits: Uint8Array.of(0xff) }))
            send(encodeMessage(extendedHandshakeMessage({
              m: { ut_metadata: PEER_UT_METADATA_ID, ut_pex: 9 },
              metadata_size: options.announcedSize ?? options.metadata.length
            })))
          }
          while (true) {
            const next = framer.next()
            if (Result.isFailure(next)) return errors.push(next.failure.message)
            if (next.success === undefined) return
            const message = decodeFrame(next.success)
            if (Result.isFailure(message)) return errors.push(message.failure.message)
            const m = message.success
            if (m._tag !== "Extended") continue
            if (m.id === 0) {
              const ext = decodeExtendedHandshake(m.payload)
              if (Result.isFailure(ext)) return errors.push(ext.failure.message)
              theirId = ext.success.m["ut_metadata"] ?? 0
              continue
            }
            if (m.id !== PEER_UT_METADATA_ID) return errors.push(`message to unknown id ${m.id}`)
            const request = decodeUtMetadata(m.payload)
            if (Result.isFailure(request)) return errors.push(request.failure.message)
            if (request.success._tag !== "Request") return errors.push(`client sent a ${request.success._tag}`)
            const piece = request.success.piece
            requests.push(piece)
            if (options.behaviour === "silent" || (options.behaviour === "lieOnce" && served > 0)) continue
            if (options.behaviour === "reject" || theirId === 0) {
              send(encodeMessage({ _tag: "Extended", id: theirId, payload: encodeUtMetadata({ _tag: "Reject", piece }) }))
              continue
            }
            const data = options.metadata.slice(piece * METADATA_PIECE_SIZE, (piece + 1) * METADATA_PIECE_SIZE)
            if (options.behaviour === "liar" || options.behaviour === "lieOnce") data[0] = (data[0] ?? 0) ^ 0xff
            served++
            send(encodeMessage({
              _tag: "Extended",
              id: theirId,
              payload: encodeUtMetadata({ _tag: "Data", piece, totalSize: options.metadata.length, data })
            }))
          }
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          server,
          sockets,
          peer: {
            address: `127.0.0.1:${port}`,
            port,
            connections: () => connections,
            refusedEncrypted: () => refusedEncrypted,
            requests: () => requests,
            served: () => served,
            closedByClient: () => closedByClient,
            open: () => sockets.size,
            errors: () => errors
          }
        }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const s of [...sockets]) {
          sockets.delete(s)
          s.destroy()
        }
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ peer }) => peer))

/** An info dict of `pieces` piece hashes: about 20 bytes of metadata per piece. */
const infoDict = (pieces: number) =>
  encode({ name: "scripted.bin", "piece length": 16384, length: pieces * 16384, pieces: randomBytes(20 * pieces) })

const local = (port: number) => ({ host: "127.0.0.1", port })

const magnetOf = (metadata: Uint8Array, peers: ReadonlyArray<MetadataPeer>): Magnet => ({
  infoHash: sha1(metadata),
  infoHashV2: null,
  name: null,
  trackers: [],
  webSeeds: [],
  peers: peers.map((p) => local(p.port)),
  selectOnly: null
})

/** A peer source that hands out `peers` once `ready` holds (polled), like a slow tracker. */
const sourceWhen = (ready: () => boolean, peers: () => ReadonlyArray<MetadataPeer>): PeerSource => (hooks) =>
  Effect.forkScoped(
    Effect.gen(function*() {
      yield* waitUntil("the peer source's condition", ready, 30)
      yield* hooks.addPeers(peers().map((p) => local(p.port)), "test")
    })
  ).pipe(Effect.asVoid)

/** A port nobody listens on (bound, then closed). */
const freePort = Effect.callback<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const until = (cond: () => boolean) => waitUntil("the condition", cond)

describe("fetchMetadata against scripted peers", () => {
  it.live("a liar is banned (never dialled again) and the metadata comes from an honest peer", () =>
    Effect.gen(function*() {
      const metadata = infoDict(2000) // 3 metadata pieces
      const infoHash = sha1(metadata)
      const liar = yield* metadataPeer({ infoHash, metadata, behaviour: "liar" })
      const honest = yield* metadataPeer({ infoHash, metadata, behaviour: "honest" })
      // The honest peer (and the liar again) only show up after the liar has sent everything.
      const source = sourceWhen(() => liar.served() >= 3, () => [honest, liar])
      const meta = yield* fetchMetadata(magnetOf(metadata, [liar]), {
        peerId: yield* makePeerId(),
        sources: [source],
        timeout: "20 seconds"
      })
      const expected = yield* parseInfoDict(metadata)
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.deepStrictEqual(meta.infoHash, expected.infoHash)
      assert.deepStrictEqual(liar.requests(), [0, 1, 2])
      // MSE first (the default policy), refused by this plaintext-only peer, then one plaintext retry
      assert.strictEqual(liar.refusedEncrypted(), 1)
      assert.strictEqual(liar.connections(), 1)
      assert.deepStrictEqual(honest.requests(), [0, 1, 2])
      yield* until(() => liar.open() + honest.open() === 0)
      assert.deepStrictEqual([...liar.errors(), ...honest.errors()], [])
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a bad assembly mixing a liar's piece with an honest peer's bans nobody; the honest peer then sends it all", () =>
    Effect.gen(function*() {
      const metadata = infoDict(2000) // 3 metadata pieces
      const infoHash = sha1(metadata)
      const liar = yield* metadataPeer({ infoHash, metadata, behaviour: "lieOnce" })
      const honest = yield* metadataPeer({ infoHash, metadata, behaviour: "honest" })
      const meta = yield* fetchMetadata(magnetOf(metadata, [liar]), {
        peerId: yield* makePeerId(),
        sources: [sourceWhen(() => liar.served() === 1, () => [honest])],
        requestTimeout: "500 millis",
        timeout: "20 seconds"
      })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      // Liar: 0 (forged), then 1 and 2 never answered (timed out); honest: 1 and 2, then all again alone.
      assert.deepStrictEqual(liar.requests(), [0, 1, 2])
      assert.deepStrictEqual(honest.requests().slice(-3), [0, 1, 2])
      assert.strictEqual(honest.requests().length, 5)
      assert.strictEqual(honest.connections(), 1)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("only a liar: NoPeers, naming the hash mismatch and the ban", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const liar = yield* metadataPeer({ infoHash: sha1(metadata), metadata, behaviour: "liar" })
      const error = yield* Effect.flip(fetchMetadata(magnetOf(metadata, [liar]), { peerId: yield* makePeerId(), sources: [] }))
      assert.instanceOf(error, MagnetFetchError)
      assert.strictEqual(error.reason, "NoPeers")
      assert.include(error.message, "did not match the info-hash (banned)")
      assert.include(error.message, "banned 1")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("an oversized metadata_size is refused without a single request; another peer is used", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const infoHash = sha1(metadata)
      const huge = yield* metadataPeer({ infoHash, metadata, behaviour: "honest", announcedSize: 2 ** 50 })
      const honest = yield* metadataPeer({ infoHash, metadata, behaviour: "honest" })
      const meta = yield* fetchMetadata(magnetOf(metadata, [huge]), {
        peerId: yield* makePeerId(),
        sources: [sourceWhen(() => huge.closedByClient() === 1, () => [honest])],
        timeout: "20 seconds"
      })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.deepStrictEqual(huge.requests(), [])
      assert.strictEqual(huge.closedByClient(), 1)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("maxMetadataSize below the real size: every peer refused, NoPeers says why", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const peer = yield* metadataPeer({ infoHash: sha1(metadata), metadata, behaviour: "honest" })
      const error = yield* Effect.flip(fetchMetadata(magnetOf(metadata, [peer]), {
        peerId: yield* makePeerId(),
        sources: [],
        maxMetadataSize: 1000
      }))
      assert.strictEqual(error.reason, "NoPeers")
      assert.include(error.message, `metadata_size ${metadata.length} is above the limit of 1000 bytes`)
      assert.deepStrictEqual(peer.requests(), [])
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a peer that never answers is dropped after the request timeout and its pieces go to another", () =>
    Effect.gen(function*() {
      const metadata = infoDict(1500) // 2 metadata pieces
      const infoHash = sha1(metadata)
      const silent = yield* metadataPeer({ infoHash, metadata, behaviour: "silent" })
      const honest = yield* metadataPeer({ infoHash, metadata, behaviour: "honest" })
      const started = yield* Clock.currentTimeMillis
      const meta = yield* fetchMetadata(magnetOf(metadata, [silent]), {
        peerId: yield* makePeerId(),
        sources: [sourceWhen(() => silent.requests().length === 2, () => [honest])],
        requestTimeout: "500 millis",
        timeout: "20 seconds"
      })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.deepStrictEqual(silent.requests(), [0, 1])
      assert.deepStrictEqual(honest.requests(), [0, 1])
      assert.isAtLeast((yield* Clock.currentTimeMillis) - started, 450)
      yield* until(() => silent.closedByClient() === 1)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("only silent peers: Timeout (peers offered the metadata), after the deadline", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const silent = yield* metadataPeer({ infoHash: sha1(metadata), metadata, behaviour: "silent" })
      const never: PeerSource = () => Effect.void
      const error = yield* Effect.flip(fetchMetadata(magnetOf(metadata, [silent]), {
        peerId: yield* makePeerId(),
        sources: [never],
        requestTimeout: "300 millis",
        timeout: "1 second"
      }))
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "did not answer a metadata request within 300 ms")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("peers that refuse connections, lack BEP 10 or reject are dropped; the honest one is used", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const infoHash = sha1(metadata)
      const refused = yield* freePort
      const plain = yield* metadataPeer({ infoHash, metadata, behaviour: "honest", extensionBit: false })
      const rejecting = yield* metadataPeer({ infoHash, metadata, behaviour: "reject" })
      const honest = yield* metadataPeer({ infoHash, metadata, behaviour: "honest" })
      const magnet = { ...magnetOf(metadata, [plain, rejecting]), peers: [local(refused), local(plain.port), local(rejecting.port)] }
      const meta = yield* fetchMetadata(magnet, {
        peerId: yield* makePeerId(),
        sources: [sourceWhen(() => rejecting.closedByClient() === 1, () => [honest])],
        timeout: "20 seconds",
        maxPeers: 1
      })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.strictEqual(plain.closedByClient(), 1)
      assert.deepStrictEqual(plain.requests(), [])
      assert.deepStrictEqual(rejecting.requests(), [0])
      assert.deepStrictEqual(honest.requests(), [0])
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("the NoPeers message names each peer's fate", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const infoHash = sha1(metadata)
      const refused = yield* freePort
      const plain = yield* metadataPeer({ infoHash, metadata, behaviour: "honest", extensionBit: false })
      const rejecting = yield* metadataPeer({ infoHash, metadata, behaviour: "reject" })
      const magnet = { ...magnetOf(metadata, []), peers: [local(refused), local(plain.port), local(rejecting.port)] }
      const error = yield* Effect.flip(fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [] }))
      assert.strictEqual(error.reason, "NoPeers")
      assert.include(error.message, "tried 3 peer(s)")
      assert.include(error.message, `127.0.0.1:${refused}: connection refused`)
      assert.include(error.message, `${plain.address}: does not support the extension protocol (BEP 10)`)
      assert.include(error.message, `${rejecting.address}: rejected every missing metadata piece`)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("v2-only magnet: the handshake uses the truncated SHA-256, the metadata is checked against SHA-256", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const v2 = sha256(metadata)
      const peer = yield* metadataPeer({ infoHash: v2.subarray(0, 20), metadata, behaviour: "honest" })
      const magnet = { ...magnetOf(metadata, [peer]), infoHash: null, infoHashV2: v2 }
      const meta = yield* fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [] })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.deepStrictEqual(peer.requests(), [0])
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("hybrid magnet: both hashes must match (a wrong SHA-256 fails metadata whose SHA-1 matches)", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const peer = yield* metadataPeer({ infoHash: sha1(metadata), metadata, behaviour: "honest" })
      const magnet = { ...magnetOf(metadata, [peer]), infoHashV2: new Uint8Array(32).fill(1) }
      const error = yield* Effect.flip(fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [] }))
      assert.strictEqual(error.reason, "NoPeers")
      assert.include(error.message, "did not match the info-hash (banned)")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("encryption \"disable\" opens in plaintext only; \"require\" never falls back to plaintext", () =>
    Effect.gen(function*() {
      const metadata = infoDict(100)
      const peer = yield* metadataPeer({ infoHash: sha1(metadata), metadata, behaviour: "honest" })
      const meta = yield* fetchMetadata(magnetOf(metadata, [peer]), { peerId: yield* makePeerId(), sources: [], encryption: "disable" })
      assert.deepStrictEqual(meta.infoBytes, metadata)
      assert.strictEqual(peer.refusedEncrypted(), 0)
      assert.strictEqual(peer.connections(), 1)
      const error = yield* Effect.flip(fetchMetadata(magnetOf(metadata, [peer]), { peerId: yield* makePeerId(), sources: [], encryption: "require" }))
      assert.strictEqual(error.reason, "NoPeers")
      assert.strictEqual(peer.refusedEncrypted(), 1)
      assert.strictEqual(peer.connections(), 1)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("no peers and no sources: NoPeers at once; no info-hash: InvalidMagnet", () =>
    Effect.gen(function*() {
      const metadata = infoDict(10)
      const none = yield* Effect.flip(fetchMetadata(magnetOf(metadata, []), { peerId: yield* makePeerId(), sources: [] }))
      assert.strictEqual(none.reason, "NoPeers")
      assert.include(none.message, "names no peers")
      const noHash = yield* Effect.flip(fetchMetadata({ ...magnetOf(metadata, []), infoHash: null }, { peerId: yield* makePeerId(), sources: [] }))
      assert.strictEqual(noHash.reason, "InvalidMagnet")
      assert.include(formatMagnet(magnetOf(metadata, [])), "xt=urn:btih:")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
