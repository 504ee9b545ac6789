/**
 * The deterministic simulated network and swarm simulator.
 *
 * - `SimNetwork.host(world, "10.0.0.5")`: a `Layer<Network>` for one host of a `World`
 *   (`makeWorld({ seed, latencyMs, uploadBps, downloadBps, udp })`), so the real client
 *   runs unchanged over simulated TCP and UDP with queued links and faults.
 * - `inVirtualTime(program, { seed })` + `advanceUntil({ done, deadlineMs })`: the
 *   discrete-event driver (our own virtual Clock + Scheduler, virtual-time.ts).
 * - `runScenario(spec)`: whole swarms (seeds, leechers, corrupt and silent peers, a UDP
 *   tracker, faults at virtual times) → per-peer statistics and a JSON-lines trace.
 */
export { makeSimTorrent, type SimTorrent, type SimTorrentOptions } from "./content.ts"
export { advanceUntil, type AdvanceOptions, inVirtualTime, type VirtualTimeOptions } from "./driver.ts"
export type { Role } from "./hosts.ts"
export * as SimNetwork from "./network.ts"
export { type PeerReport, reportInputOf, runEventsOf, type ScenarioReport, type Summary, summarize } from "./report.ts"
export { renderReportHtml } from "./report-html.ts"
export { reportInputOfTrace } from "./trace-report.ts"
export { buildReportModel, type ReportInput, type ReportModel, type RunEvent, type RunHost } from "./report-model.ts"
export { addressOf, type Fault, type FaultTime, payloadOf, runScenario, type ScenarioSpec, SHARED_PAYLOAD_FROM, simulate } from "./scenario.ts"
export { makeSimStorage, type SharedContent, type SimStorageOptions } from "./storage.ts"
export { runTrackerServer, type TrackerServerOptions } from "./tracker-server.ts"
export { type HostOptions, makeWorld, type UdpConditions, type World, type WorldOptions } from "./world.ts"
export { DHT_PORT, followEvents, type SimClient, type SimClientOptions, type SimDhtNodeOptions, simNodeId, startDhtNode, startSimClient } from "./dht-hosts.ts"
export { defaultBootstrapOf, dhtAddressOf, type DhtSwarmSpec, type SimDhtNode, startDhtSwarm } from "./dht-scenario.ts"
export { type MagnetPeerReport, type MagnetScenarioReport, type MagnetScenarioSpec, runMagnetScenario, simulateMagnet } from "./magnet-scenario.ts"
export { type NamedScenario, namedScenarios, type ScenarioBase, type ScenarioName, scenarioNames } from "./named-scenarios.ts"
