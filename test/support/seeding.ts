/**
 * Our client as the seeder under attack, and a second instance of our client as the
 * honest leecher that must still get a byte-identical copy while a hostile peer acts.
 */
import { type Duration, Effect } from "effect"
import type { ClientConfig } from "../../src/client/index.ts"
import type { Torrent } from "../../src/torrent/index.ts"
import { awaitComplete, type EventLog, recordEvents, startClient } from "./engine.ts"
import { tempDir } from "./files.ts"
import { differingFiles, type TorrentFixture } from "./torrent-fixture.ts"

export interface Seeder {
  readonly torrent: Torrent
  readonly log: EventLog
  /** The port it accepts peers on (127.0.0.1). */
  readonly port: number
}

/**
 * Our client serving `fixture.root` (checked on add, so a damaged copy seeds only the
 * pieces that pass their hash check), in the current scope.
 */
export const startSeeder = (fixture: TorrentFixture, config: ClientConfig = {}) =>
  Effect.gen(function*() {
    const client = yield* startClient(fixture.root, config)
    const torrent = yield* client.add(fixture.torrent).pipe(Effect.orDie)
    const log = yield* recordEvents(torrent)
    const port = client.port
    if (port === null) return yield* Effect.die(new Error("the seeder does not listen"))
    const seeder: Seeder = { torrent, log, port }
    return seeder
  })

export interface HonestLeecher {
  readonly torrent: Torrent
  readonly log: EventLog
  readonly directory: string
}

/** A second instance of our client, downloading from the seeder into a fresh temp dir. */
export const startHonestLeecher = (fixture: TorrentFixture, seederPort: number) =>
  Effect.gen(function*() {
    const directory = yield* tempDir("et-honest-")
    const client = yield* startClient(directory)
    const torrent = yield* client.add(fixture.torrent).pipe(Effect.orDie)
    const log = yield* recordEvents(torrent)
    yield* torrent.addPeers([{ host: "127.0.0.1", port: seederPort }])
    const leecher: HonestLeecher = { torrent, log, directory }
    return leecher
  })

/** Waits for the honest leecher to finish and returns the files that differ from the seeder's (should be none). */
export const honestResult = (fixture: TorrentFixture, leecher: HonestLeecher, timeout: Duration.Input = "12 seconds") =>
  Effect.gen(function*() {
    yield* awaitComplete(leecher.torrent, leecher.log, timeout)
    return yield* differingFiles(fixture.metainfo, fixture.root, leecher.directory)
  })

/** Keys of the peers the seeder is not choking right now. */
export const unchokedPeers = (seeder: Seeder) =>
  Effect.map(seeder.torrent.peers, (peers) => peers.filter((p) => !p.amChoking).map((p) => p.key))

/**
 * Waits for the seeder's `PeerDisconnected` of `key` and returns its kind and reason
 * (dies with the event log if it does not come in time).
 */
export const disconnectOf = (seeder: Seeder, key: string, timeout: Duration.Input = "5 seconds") =>
  Effect.map(
    seeder.log.waitFor(`the seeder to disconnect ${key}`, (e) => e._tag === "PeerDisconnected" && e.peer === key, timeout),
    (e) => (e._tag === "PeerDisconnected" ? { kind: e.kind, reason: e.reason } : { kind: "", reason: "" })
  )

/** Whether the seeder has ended its session with `key` (so far). */
export const isDisconnected = (seeder: Seeder, key: string): boolean =>
  seeder.log.all().some((e) => e._tag === "PeerDisconnected" && e.peer === key)
